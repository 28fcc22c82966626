package main

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
)

// The sequential specification the fault tests check histories against:
// what one correct talon node would answer, one operation at a time.
// Tickets of one service at one office are numbered 1, 2, 3, ... and a
// linearizable queue read sees all of them waiting; a slot has a fixed
// number of seats, a booking takes one if one is free and is refused
// slot_taken otherwise, a cancellation frees it, and a linearizable slot
// read sees the seats left. Each key (the ticket counter, each slot) is
// checked on its own.

type opKind int

const (
	opIssue opKind = iota
	opReadQueue
	opBook
	opCancel
	opReadSlot
)

const keyTickets = "tickets"

type opInput struct {
	kind    opKind
	key     string // keyTickets or the slot
	booking string // for opCancel
	seats   int    // the slot's seats
}

type opOutput struct {
	n     int    // ticket number; waiting tickets; free seats
	id    string // booking made
	taken bool   // booking refused: slot_taken
}

// modelState of one key: tickets issued, or the bookings holding seats
// (ids sorted, comma-joined, and how many of unknown id: bookings whose
// client got no answer).
type modelState struct {
	issued int
	ids    string
	anon   int
}

// unknown marks the output of an operation that got no definite answer:
// it may have happened, at any moment after its call.
var unknown = opOutput{n: -1}

func (s modelState) held() []string {
	if s.ids == "" {
		return nil
	}
	return strings.Split(s.ids, ",")
}

func (s modelState) with(ids []string) modelState {
	slices.Sort(ids)
	s.ids = strings.Join(ids, ",")
	return s
}

func step(state, input, output any) (bool, any) {
	s, in, out := state.(modelState), input.(opInput), output.(opOutput)
	lost := out == unknown
	held := s.held()
	free := in.seats - len(held) - s.anon
	switch in.kind {
	case opIssue:
		s.issued++
		return lost || out.n == s.issued, s
	case opReadQueue:
		return out.n == s.issued, s
	case opReadSlot:
		return out.n == free, s
	case opBook:
		switch {
		case lost && free > 0:
			s.anon++
			return true, s
		case lost:
			return true, s
		case out.taken:
			return free <= 0, s
		default:
			return free > 0, s.with(append(held, out.id))
		}
	case opCancel:
		i := slices.Index(held, in.booking)
		if i < 0 {
			return lost, s
		}
		return true, s.with(slices.Delete(held, i, i+1))
	}
	return false, s
}

var talonModel = porcupine.Model{
	Partition: func(history []porcupine.Operation) [][]porcupine.Operation {
		byKey := map[string][]porcupine.Operation{}
		var keys []string
		for _, op := range history {
			k := op.Input.(opInput).key
			if byKey[k] == nil {
				keys = append(keys, k)
			}
			byKey[k] = append(byKey[k], op)
		}
		var out [][]porcupine.Operation
		for _, k := range keys {
			out = append(out, byKey[k])
		}
		return out
	},
	Init: func() any { return modelState{} },
	Step: step,
	DescribeOperation: func(input, output any) string {
		in, out := input.(opInput), output.(opOutput)
		return fmt.Sprintf("%v %s %s -> %+v", in.kind, in.key, in.booking, out)
	},
}

// linearizable checks the history (at most a minute of checking) and says
// how long that took.
func linearizable(h *history, ops []timedOp) (bool, time.Duration) {
	var hist []porcupine.Operation
	for _, op := range ops {
		p := porcupine.Operation{ClientId: op.client, Input: op.in, Output: op.out,
			Call: op.call.Sub(h.start).Nanoseconds(), Return: op.ret.Sub(h.start).Nanoseconds()}
		if op.unresolved {
			p.Output, p.Return = unknown, math.MaxInt64
		}
		hist = append(hist, p)
	}
	start := time.Now()
	res := porcupine.CheckOperationsTimeout(talonModel, hist, time.Minute)
	return res == porcupine.Ok, time.Since(start)
}

// explain is what a failed check needs to be understood: the key whose
// history is not linearizable on its own, and that history in call order
// (times in ms from the start, the answering node's client).
func explain(h *history, ops []timedOp) string {
	byKey := map[string][]timedOp{}
	for _, op := range ops {
		byKey[op.in.key] = append(byKey[op.in.key], op)
	}
	for key, kops := range byKey {
		if ok, _ := linearizable(h, kops); ok {
			continue
		}
		slices.SortFunc(kops, func(a, b timedOp) int { return a.call.Compare(b.call) })
		var b strings.Builder
		fmt.Fprintf(&b, "key %s (%d operations):\n", key, len(kops))
		for _, op := range kops {
			ret := "never"
			if !op.unresolved {
				ret = fmt.Sprintf("%.1f", float64(op.ret.Sub(h.start).Microseconds())/1000)
			}
			fmt.Fprintf(&b, "  client %d  %.1f → %s ms  %s\n", op.client, float64(op.call.Sub(h.start).Microseconds())/1000, ret,
				talonModel.DescribeOperation(op.in, op.out))
		}
		return b.String()
	}
	return "every key is linearizable on its own"
}

// The model accepts the histories a correct node produces and refuses the
// ones a lost write, a repeated number, a sold-out seat sold again or a
// stale read produce.
func TestModel(t *testing.T) {
	op := func(call, ret int64, in opInput, out opOutput) porcupine.Operation {
		return porcupine.Operation{Input: in, Output: out, Call: call, Return: ret}
	}
	issue, readQ := opInput{kind: opIssue, key: keyTickets}, opInput{kind: opReadQueue, key: keyTickets}
	book := opInput{kind: opBook, key: "s", seats: 1}
	read := opInput{kind: opReadSlot, key: "s", seats: 1}
	cancel := opInput{kind: opCancel, key: "s", booking: "7", seats: 1}
	for name, c := range map[string]struct {
		ok   bool
		hist []porcupine.Operation
	}{
		"numbers in order":  {true, []porcupine.Operation{op(0, 10, issue, opOutput{n: 1}), op(20, 30, issue, opOutput{n: 2}), op(40, 50, readQ, opOutput{n: 2})}},
		"concurrent issues": {true, []porcupine.Operation{op(0, 10, issue, opOutput{n: 2}), op(5, 30, issue, opOutput{n: 1})}},
		"number repeated":   {false, []porcupine.Operation{op(0, 10, issue, opOutput{n: 1}), op(20, 30, issue, opOutput{n: 1})}},
		"number skipped":    {false, []porcupine.Operation{op(0, 10, issue, opOutput{n: 1}), op(20, 30, issue, opOutput{n: 3})}},
		"a lost issue that happened": {true, []porcupine.Operation{op(0, math.MaxInt64, issue, unknown),
			op(20, 30, issue, opOutput{n: 2})}},
		"a lost issue that did not": {true, []porcupine.Operation{op(0, math.MaxInt64, issue, unknown),
			op(20, 30, issue, opOutput{n: 1}), op(40, 50, readQ, opOutput{n: 1})}},
		"acknowledged ticket not read": {false, []porcupine.Operation{op(0, 10, issue, opOutput{n: 1}), op(20, 30, readQ, opOutput{n: 0})}},
		"one seat, two bookers": {true, []porcupine.Operation{op(0, 10, book, opOutput{id: "7"}), op(5, 15, book, opOutput{taken: true}),
			op(20, 30, read, opOutput{n: 0}), op(40, 50, cancel, opOutput{}), op(60, 70, read, opOutput{n: 1}), op(80, 90, book, opOutput{id: "8"})}},
		"seat sold twice":          {false, []porcupine.Operation{op(0, 10, book, opOutput{id: "7"}), op(20, 30, book, opOutput{id: "8"})}},
		"stale slot read":          {false, []porcupine.Operation{op(0, 10, book, opOutput{id: "7"}), op(20, 30, read, opOutput{n: 1})}},
		"refused with a seat free": {false, []porcupine.Operation{op(0, 10, book, opOutput{taken: true})}},
		"a lost booking holds the seat": {true, []porcupine.Operation{op(0, math.MaxInt64, book, unknown),
			op(20, 30, read, opOutput{n: 0}), op(40, 50, book, opOutput{taken: true})}},
		"cancel of what was never booked": {false, []porcupine.Operation{op(0, 10, cancel, opOutput{})}},
	} {
		if got := porcupine.CheckOperations(talonModel, c.hist); got != c.ok {
			t.Errorf("%s: linearizable = %v, want %v", name, got, c.ok)
		}
	}
}
