package main

import (
	"fmt"
)

// reads: the portal asks a follower for a day's free slots and for the
// offices with their load, as fast as the clients can; a bare fasthttp
// handler answering a constant, driven by the same clients, is the ceiling.
func (b *bench) reads() error {
	nodes, err := b.cluster()
	if err != nil {
		return err
	}
	defer stopAll(nodes)
	f, err := follower(nodes)
	if err != nil {
		return err
	}
	// Half the day's seats are taken, so the answers are not all alike.
	whole, err := slotsOf(nodes[0], b.region, day(1), 0)
	if err != nil {
		return err
	}
	for _, p := range whole {
		p.starts = p.starts[:len(p.starts)/2]
	}
	storm("book half a day", viaHTTP(nodes), whole, 64, 0, b.limit)

	get := func(nd *node, path string) func(int, int) (outcome, string) {
		return func(int, int) (outcome, string) {
			code, body, err := nd.do("GET", path, nil)
			switch {
			case err != nil:
				return failed, "transport"
			case code != 200:
				return failed, errorCode(code, body)
			}
			return ok, ""
		}
	}
	wait := profile(b.profile, "reads", []*node{f}, 4)
	cpu := meterCPU(nodes)
	slotsPath := fmt.Sprintf("/api/v1/offices/bench-01/slots?service=passport&date=%s", day(1))
	_, answer, err := f.do("GET", slotsPath, nil)
	if err != nil {
		return err
	}
	slots := drive("follower: slots", b.clients, b.ceiling, get(f, slotsPath))
	fmt.Fprintln(b.out, slots)
	fmt.Fprintln(b.out, cpu)
	wait()
	offices := drive("follower: offices", b.clients, b.ceiling, get(f, "/api/v1/offices"))
	fmt.Fprintln(b.out, offices)
	stopAll(nodes)

	nd, stop, err := bare([]byte(`{"ok":true}`))
	if err != nil {
		return err
	}
	ceiling := drive("bare fasthttp", b.clients, b.ceiling, get(nd, "/"))
	stop()
	fmt.Fprintln(b.out, ceiling)
	// The same ceiling answering as many bytes as the slots answer: how
	// much of the gap is moving the answer, not making it.
	nd, stop, err = bare(answer)
	if err != nil {
		return err
	}
	defer stop()
	sized := drive(fmt.Sprintf("bare, %d B answer", len(answer)), b.clients, b.ceiling, get(nd, "/"))
	fmt.Fprintln(b.out, sized)
	fmt.Fprintf(b.out, "ratio: slots %.0f%%, offices %.0f%% of the bare fasthttp ceiling (%.0f/s); slots %.0f%% of the same-size ceiling (%.0f/s)\n",
		100*slots.rate()/ceiling.rate(), 100*offices.rate()/ceiling.rate(), ceiling.rate(), 100*slots.rate()/sized.rate(), sized.rate())
	return nil
}
