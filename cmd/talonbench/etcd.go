package main

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// startEtcd starts a three-member etcd cluster on loopback (its default
// durability: an fsync of its log before it answers) and returns it as a
// peer: one Txn per booking.
func startEtcd(b *bench) (*peer, error) {
	bin, err := find("etcd")
	if err != nil {
		return nil, &missingError{"etcd-server", "etcd"}
	}
	type member struct {
		name, client, peer string
		cmd                *exec.Cmd
		logs               *bytes.Buffer
	}
	members := make([]*member, 3)
	var initial []string
	for i := range members {
		m := &member{name: fmt.Sprintf("m%d", i+1)}
		if m.client, err = freePort(); err != nil {
			return nil, err
		}
		if m.peer, err = freePort(); err != nil {
			return nil, err
		}
		members[i], initial = m, append(initial, m.name+"=http://"+m.peer)
	}
	stop := func() {
		for _, m := range members {
			if m.cmd != nil && m.cmd.Process != nil {
				m.cmd.Process.Signal(syscall.SIGKILL)
				m.cmd.Wait()
			}
		}
	}
	for _, m := range members {
		m.cmd = exec.Command(bin, "--name", m.name, "--data-dir", filepath.Join(b.dir, "etcd-"+m.name),
			"--listen-client-urls", "http://"+m.client, "--advertise-client-urls", "http://"+m.client,
			"--listen-peer-urls", "http://"+m.peer, "--initial-advertise-peer-urls", "http://"+m.peer,
			"--initial-cluster", strings.Join(initial, ","), "--initial-cluster-state", "new",
			"--initial-cluster-token", "talonbench", "--logger", "zap", "--log-level", "error")
		m.logs = new(bytes.Buffer)
		m.cmd.Stdout, m.cmd.Stderr = m.logs, m.logs
		if err := m.cmd.Start(); err != nil {
			stop()
			return nil, err
		}
	}
	for _, m := range members {
		if err := waitPort(m.cmd, nil, m.client, m.logs); err != nil {
			stop()
			return nil, err
		}
	}
	// One client per member: client w books through member w mod 3, as the
	// storm's clients spread over talon's nodes.
	var clients []*clientv3.Client
	closeAll := func() {
		for _, c := range clients {
			c.Close()
		}
		stop()
	}
	for _, m := range members {
		c, err := clientv3.New(clientv3.Config{Endpoints: []string{m.client}, DialTimeout: 10 * time.Second, Logger: zap.NewNop()})
		if err != nil {
			closeAll()
			return nil, err
		}
		clients = append(clients, c)
	}
	ctx := context.Background()
	for deadline := time.Now().Add(60 * time.Second); ; { // a leader, and a write through every member
		err = nil
		for _, c := range clients {
			if _, err = c.Put(ctx, "/ready", "1"); err != nil {
				break
			}
		}
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			closeAll()
			return nil, fmt.Errorf("etcd cluster not ready: %w\n%s", err, tail(members[0].logs.String(), 3000))
		}
		time.Sleep(50 * time.Millisecond)
	}
	fmt.Fprintf(b.out, "etcd: 3 members on loopback, default durability, %d clients over 3 connections\n", b.clients)
	counters := &etcdCounters{windows: b.region.Windows, known: map[string]counter{}}
	return &peer{
		name: "etcd",
		what: "etcd, 3 members: one Txn per booking (version compare)",
		book: func(w int, p *pair, idx int) (string, outcome, string) {
			return counters.book(ctx, clients[w%len(clients)], p, idx)
		},
		state: func() (map[string]bool, map[string]int, error) { return etcdState(ctx, clients[0]) },
		pids: func() []int {
			var out []int
			for _, m := range members {
				out = append(out, m.cmd.Process.Pid)
			}
			return out
		},
		stop: closeAll,
	}, nil
}

// counter is a slot's count of visits and the version of its key.
type counter struct{ n, version int64 }

// etcdCounters books by compare-and-swap on the slots' counter keys. The
// clients share what they last saw of each key, as a portal backend's
// workers would, so a booking is one Txn unless someone else changed a
// counter since: then the Txn's else branch returns the keys' current
// values and the booking tries again with them.
type etcdCounters struct {
	windows int
	mu      sync.Mutex
	known   map[string]counter
}

func (e *etcdCounters) book(ctx context.Context, c *clientv3.Client, p *pair, idx int) (string, outcome, string) {
	keys, err := slotKeys(p.office, p.service, p.starts[idx])
	if err != nil {
		return "", failed, "bad_start"
	}
	for i := range keys {
		keys[i] = "/slot/" + keys[i]
	}
	id := strconv.FormatInt(phones.Add(1), 10)
	for {
		var cmps []clientv3.Cmp
		var puts, gets []clientv3.Op
		seen := make([]counter, len(keys))
		full := false
		e.mu.Lock()
		for i, k := range keys {
			cur := e.known[k]
			seen[i] = cur
			full = full || cur.n >= int64(e.windows)
			cmps = append(cmps, clientv3.Compare(clientv3.Version(k), "=", cur.version))
			puts = append(puts, clientv3.OpPut(k, strconv.FormatInt(cur.n+1, 10)))
			gets = append(gets, clientv3.OpGet(k))
		}
		e.mu.Unlock()
		if full { // confirm with the cluster that nothing changed since the count was seen
			puts = nil
		} else {
			puts = append(puts, clientv3.OpPut("/booking/"+id, p.office+"|"+p.service+"|"+p.starts[idx]))
		}
		resp, err := c.Txn(ctx).If(cmps...).Then(puts...).Else(gets...).Commit()
		if err != nil {
			return "", failed, "etcd: " + err.Error()
		}
		if resp.Succeeded {
			if full {
				return "", conflict, ""
			}
			e.mu.Lock()
			for i, k := range keys { // this Txn made the version after the one it saw
				if next := (counter{seen[i].n + 1, seen[i].version + 1}); next.version > e.known[k].version {
					e.known[k] = next
				}
			}
			e.mu.Unlock()
			return id, ok, ""
		}
		e.mu.Lock()
		for i, r := range resp.Responses {
			k := keys[i]
			got := counter{}
			if kvs := r.GetResponseRange().Kvs; len(kvs) > 0 {
				got.n, _ = strconv.ParseInt(string(kvs[0].Value), 10, 64)
				got.version = kvs[0].Version
			}
			if got.version > e.known[k].version {
				e.known[k] = got
			}
		}
		e.mu.Unlock()
	}
}

func etcdState(ctx context.Context, c *clientv3.Client) (map[string]bool, map[string]int, error) {
	ids, taken := map[string]bool{}, map[string]int{}
	resp, err := c.Get(ctx, "/booking/", clientv3.WithPrefix(), clientv3.WithKeysOnly())
	if err != nil {
		return nil, nil, err
	}
	for _, kv := range resp.Kvs {
		ids[strings.TrimPrefix(string(kv.Key), "/booking/")] = true
	}
	if resp, err = c.Get(ctx, "/slot/", clientv3.WithPrefix()); err != nil {
		return nil, nil, err
	}
	for _, kv := range resp.Kvs {
		n, err := strconv.Atoi(string(kv.Value))
		if err != nil {
			return nil, nil, fmt.Errorf("slot %s holds %q", kv.Key, kv.Value)
		}
		taken[strings.TrimPrefix(string(kv.Key), "/slot/")] = n
	}
	return ids, taken, nil
}
