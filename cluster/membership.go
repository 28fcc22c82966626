package cluster

import (
	"github.com/talon-mfc/talon/cluster/node"

	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/raft"
)

func (s *Store) servers() ([]raft.Server, error) {
	f := s.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		return nil, err
	}
	return f.Configuration().Servers, nil
}

// otherVoters are the addresses of the voters other than this node, and
// how many voters there are.
func (s *Store) otherVoters() (others []string, voters int, err error) {
	servers, err := s.servers()
	for _, sv := range servers {
		if sv.Suffrage != raft.Voter {
			continue
		}
		if voters++; string(sv.ID) != s.cfg.ID {
			others = append(others, string(sv.Address))
		}
	}
	return others, voters, err
}

func (s *Store) hello() Hello {
	h := Hello{ID: s.cfg.ID, Addr: s.mux.Addr().String()}
	servers, _ := s.servers()
	for _, sv := range servers {
		h.Servers = append(h.Servers, string(sv.ID))
	}
	return h
}

// join runs on a node started with Join addresses until it is in a
// cluster: it asks a member to add it, or, when nobody has a cluster yet and
// BootstrapExpect nodes answer, forms the cluster from exactly those.
func (s *Store) join() {
	for {
		if h := s.hello(); len(h.Servers) > 0 {
			return
		}
		fresh := []raft.Server{{ID: raft.ServerID(s.cfg.ID), Address: raft.ServerAddress(s.mux.Addr().String())}}
		member := false
		for _, addr := range s.cfg.Join {
			if addr == s.mux.Addr().String() {
				continue
			}
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			var h Hello
			err := s.peers.call(ctx, addr, "Hello", struct{}{}, &h)
			cancel()
			switch {
			case err != nil || h.ID == s.cfg.ID:
			case len(h.Servers) == 0:
				if !slices.ContainsFunc(fresh, func(sv raft.Server) bool { return string(sv.ID) == h.ID }) {
					fresh = append(fresh, raft.Server{ID: raft.ServerID(h.ID), Address: raft.ServerAddress(h.Addr)})
				}
			case slices.Contains(h.Servers, s.cfg.ID):
				member = true // already listed; the leader will reach us
			default:
				member = true
				ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
				err := s.peers.call(ctx, addr, "Join", JoinArgs{ID: s.cfg.ID, Addr: s.mux.Addr().String()}, &struct{}{})
				cancel()
				if err == nil {
					s.cfg.Logger.Info("joined the cluster", "via", addr)
					return
				}
				s.cfg.Logger.Warn("join", "via", addr, "err", err)
			}
		}
		if !member && s.cfg.BootstrapExpect > 1 && len(fresh) >= s.cfg.BootstrapExpect {
			slices.SortFunc(fresh, func(a, b raft.Server) int { return strings.Compare(string(a.ID), string(b.ID)) })
			err := s.raft.BootstrapCluster(raft.Configuration{Servers: fresh}).Error()
			if err == nil || errors.Is(err, raft.ErrCantBootstrap) {
				s.cfg.Logger.Info("cluster formed", "servers", len(fresh))
				return
			}
			s.cfg.Logger.Warn("bootstrap", "err", err)
		}
		select {
		case <-s.stop:
			return
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// Join adds a node as a non-voter; the leader promotes it to voter once it
// has caught up. Joining again with the same id and address does nothing; a
// known id with a new address is moved.
func (s *Store) Join(ctx context.Context, id, addr string) error {
	if id == "" || addr == "" {
		return errors.New("cluster: join needs a node id and address")
	}
	return s.onLeader(ctx, func() error {
		servers, err := s.servers()
		if err != nil {
			return err
		}
		for _, sv := range servers {
			switch {
			case string(sv.ID) == id && string(sv.Address) == addr:
				return nil
			case string(sv.ID) == id || string(sv.Address) == addr:
				if err := s.raft.RemoveServer(sv.ID, 0, 10*time.Second).Error(); err != nil {
					return leaderErr(err)
				}
			}
		}
		return leaderErr(s.raft.AddNonvoter(raft.ServerID(id), raft.ServerAddress(addr), 0, 10*time.Second).Error())
	}, func(leader string) error {
		return s.peers.call(ctx, leader, "Join", JoinArgs{ID: id, Addr: addr}, &struct{}{})
	})
}

// Remove takes a node out of the configuration (a dead one, or one being
// retired). Removing the leader makes it step down.
func (s *Store) Remove(ctx context.Context, id string) error {
	return s.onLeader(ctx, func() error {
		servers, err := s.servers()
		if err != nil {
			return err
		}
		if !slices.ContainsFunc(servers, func(sv raft.Server) bool { return string(sv.ID) == id }) {
			return fmt.Errorf("%w: %q", node.ErrUnknownNode, id)
		}
		return leaderErr(s.raft.RemoveServer(raft.ServerID(id), 0, 10*time.Second).Error())
	}, func(leader string) error {
		return s.peers.call(ctx, leader, "Remove", id, &struct{}{})
	})
}

// TransferLeadership asks the leader to hand over to the node with id (any
// up-to-date voter when id is ""), for planned maintenance.
func (s *Store) TransferLeadership(ctx context.Context, id string) error {
	return s.onLeader(ctx, func() error { return s.transferLocal(id) }, func(leader string) error {
		return s.peers.call(ctx, leader, "Transfer", id, &struct{}{})
	})
}

func (s *Store) transferLocal(id string) error {
	if s.raft.State() != raft.Leader {
		return node.ErrNotLeader
	}
	if id == "" {
		return s.raft.LeadershipTransfer().Error()
	}
	servers, err := s.servers()
	if err != nil {
		return err
	}
	for _, sv := range servers {
		if string(sv.ID) == id {
			return s.raft.LeadershipTransferToServer(sv.ID, sv.Address).Error()
		}
	}
	return fmt.Errorf("%w: %q", node.ErrUnknownNode, id)
}

// leaderErr maps Raft's "not the leader" to ours, so onLeader retries.
func leaderErr(err error) error {
	if errors.Is(err, raft.ErrNotLeader) || errors.Is(err, raft.ErrLeadershipLost) {
		return node.ErrNotLeader
	}
	return err
}

// Nodes is every server of the configuration with its status, asked of the
// node itself over RPC; a node that does not answer within a second shows
// its error.
func (s *Store) Nodes(ctx context.Context) ([]node.Member, error) {
	servers, err := s.servers()
	if err != nil {
		return nil, err
	}
	out := make([]node.Member, len(servers))
	var wg sync.WaitGroup
	for i, sv := range servers {
		out[i] = node.Member{ID: string(sv.ID), Addr: string(sv.Address), Suffrage: sv.Suffrage.String()}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if string(sv.ID) == s.cfg.ID {
				st := s.Status()
				out[i].Status = &st
				return
			}
			ctx, cancel := context.WithTimeout(ctx, time.Second)
			defer cancel()
			var st node.Status
			if err := s.peers.call(ctx, string(sv.Address), "Status", struct{}{}, &st); err != nil {
				out[i].Error = err.Error()
				return
			}
			out[i].Status = &st
		}()
	}
	wg.Wait()
	var commit uint64
	for _, n := range out {
		if n.Status != nil && n.Status.State == "Leader" {
			commit = n.Status.CommitIndex
		}
	}
	for i, n := range out {
		if n.Status != nil && commit > n.Status.AppliedIndex {
			out[i].Lag = commit - n.Status.AppliedIndex
		}
	}
	return out, nil
}

// promote, on the leader, makes each non-voter that has been caught up on
// two checks in a row a voter.
func (s *Store) promote(caughtUp map[string]int) {
	servers, err := s.servers()
	if err != nil {
		return
	}
	for _, sv := range servers {
		if sv.Suffrage != raft.Nonvoter {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		var st node.Status
		err := s.peers.call(ctx, string(sv.Address), "Status", struct{}{}, &st)
		cancel()
		if err != nil || st.AppliedIndex+readyLag < s.raft.CommitIndex() {
			caughtUp[string(sv.ID)] = 0
			continue
		}
		if caughtUp[string(sv.ID)]++; caughtUp[string(sv.ID)] < 2 {
			continue
		}
		if err := s.raft.AddVoter(sv.ID, sv.Address, 0, 10*time.Second).Error(); err != nil {
			s.cfg.Logger.Warn("promote", "node", sv.ID, "err", err)
			continue
		}
		s.cfg.Logger.Info("promoted to voter", "node", sv.ID)
		delete(caughtUp, string(sv.ID))
	}
}
