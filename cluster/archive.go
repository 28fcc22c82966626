package cluster

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"time"

	"github.com/talon-mfc/talon/queue"
)

// archive is the node's archive on disk (queue/retention.go): a file per
// office and UTC day, archive/<office>/<2006-01-02>.json, holding the
// tickets issued and the bookings visited that day after they left the live
// state, without names or phones. Every node writes what the log's Ticks
// hand it, so a replayed Tick writes the same again (a file merges by id); a
// node that skipped those Ticks by installing a snapshot fetches the files
// it lacks from the leader (syncArchive).
type archive struct{ dir string }

type archiveDay struct {
	Tickets  []queue.Ticket  `json:"tickets"`
	Bookings []queue.Booking `json:"bookings"`
}

var archiveName = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,63}/\d{4}-\d{2}-\d{2}\.json$`)

func dayName(office string, unix int64) string {
	return office + "/" + time.Unix(unix, 0).UTC().Format(time.DateOnly) + ".json"
}

// write files what a Tick archived, merged with what the files hold.
func (a archive) write(x *queue.Archive) error {
	days := map[string]*archiveDay{}
	at := func(name string) *archiveDay {
		if days[name] == nil {
			days[name] = &archiveDay{}
		}
		return days[name]
	}
	for _, t := range x.Tickets {
		d := at(dayName(t.Office, t.IssuedAt))
		d.Tickets = append(d.Tickets, t)
	}
	for _, b := range x.Bookings {
		d := at(dayName(b.Office, b.Start))
		d.Bookings = append(d.Bookings, b)
	}
	for name, d := range days {
		old, err := a.day(name)
		if err != nil {
			return err
		}
		d.Tickets = mergeByID(old.Tickets, d.Tickets, func(t queue.Ticket) uint64 { return t.ID })
		d.Bookings = mergeByID(old.Bookings, d.Bookings, func(b queue.Booking) uint64 { return b.ID })
		data, err := json.Marshal(d)
		if err != nil {
			return err
		}
		if err := a.put(name, data); err != nil {
			return err
		}
	}
	return nil
}

func mergeByID[T any](old, add []T, id func(T) uint64) []T {
	out := append(slices.Clone(old), add...)
	slices.SortStableFunc(out, func(x, y T) int { return cmp.Compare(id(x), id(y)) })
	return slices.CompactFunc(out, func(x, y T) bool { return id(x) == id(y) })
}

// day reads one day's file (empty when there is none).
func (a archive) day(name string) (archiveDay, error) {
	var d archiveDay
	data, err := os.ReadFile(filepath.Join(a.dir, name))
	if errors.Is(err, os.ErrNotExist) {
		return d, nil
	}
	if err != nil {
		return d, err
	}
	return d, json.Unmarshal(data, &d)
}

// put writes a day's file whole: a temporary file, synced, then renamed.
func (a archive) put(name string, data []byte) error {
	if !archiveName.MatchString(name) {
		return fmt.Errorf("archive: bad file name %q", name)
	}
	path := filepath.Join(a.dir, name)
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		os.Remove(f.Name())
	}
	return err
}

// tickets are the archived tickets of office issued in [from, to), on days
// up to through (the state's ArchivedThrough: a restored older state holds
// the later days itself).
func (a archive) tickets(office string, from, to, through int64) ([]queue.Ticket, error) {
	var out []queue.Ticket
	last := min(to/86400, through)
	for d := from / 86400; d <= last; d++ {
		day, err := a.day(dayName(office, d*86400))
		if err != nil {
			return nil, err
		}
		for _, t := range day.Tickets {
			if t.IssuedAt >= from && t.IssuedAt < to {
				out = append(out, t)
			}
		}
	}
	return out, nil
}

// list names every file of the archive.
func (a archive) list() ([]string, error) {
	var out []string
	err := filepath.WalkDir(a.dir, func(path string, e os.DirEntry, err error) error {
		if errors.Is(err, os.ErrNotExist) {
			return filepath.SkipAll
		}
		if err != nil || e.IsDir() {
			return err
		}
		if rel, _ := filepath.Rel(a.dir, path); archiveName.MatchString(filepath.ToSlash(rel)) {
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	})
	return out, err
}

var errNoLeaderYet = errors.New("no leader yet")

// ArchiveFile is one file of a node's archive, for a node that lacks it.
type ArchiveFile struct {
	Name string
	Data []byte
}

func (v service) ArchiveList(_ struct{}, names *[]string) (err error) {
	*names, err = v.s.fsm.archive.list()
	return err
}

func (v service) ArchiveFile(name string, f *ArchiveFile) error {
	if !archiveName.MatchString(name) {
		return fmt.Errorf("archive: bad file name %q", name)
	}
	data, err := os.ReadFile(filepath.Join(v.s.fsm.archive.dir, name))
	*f = ArchiveFile{Name: name, Data: data}
	return err
}

// syncArchive fetches from the leader the archive files this node lacks: a
// node that installed a snapshot never applied the Ticks that wrote them.
func (s *Store) syncArchive(ctx context.Context) error {
	addr, _ := s.raft.LeaderWithID()
	switch {
	case addr == "":
		return errNoLeaderYet
	case string(addr) == s.mux.Addr().String():
		return nil // the leader applied every Tick it holds the state of
	}
	var names []string
	if err := s.peers.call(ctx, string(addr), "ArchiveList", struct{}{}, &names); err != nil {
		return err
	}
	have, err := s.fsm.archive.list()
	if err != nil {
		return err
	}
	for _, name := range names {
		if slices.Contains(have, name) {
			continue
		}
		var f ArchiveFile
		if err := s.peers.call(ctx, string(addr), "ArchiveFile", name, &f); err != nil {
			return err
		}
		if err := s.fsm.archive.put(name, f.Data); err != nil {
			return err
		}
	}
	return nil
}

// keepArchive runs syncArchive at start and after every snapshot install,
// until it succeeds each time.
func (s *Store) keepArchive() {
	pending := true
	for {
		if pending {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			err := s.syncArchive(ctx)
			cancel()
			if pending = err != nil; pending && err != errNoLeaderYet {
				s.cfg.Logger.Warn("archive: fetching from the leader", "err", err)
			}
		}
		select {
		case <-s.stop:
			return
		case <-s.fsm.restored:
			pending = true
		case <-time.After(5 * time.Second):
		}
	}
}

// ArchivedTickets are the tickets of office issued in [from, to) that have
// left the live state for the archive.
func (s *Store) ArchivedTickets(office string, from, to int64) ([]queue.Ticket, error) {
	var through int64
	s.fsm.read(func(st *queue.State) { through = st.ArchivedThrough })
	return s.fsm.archive.tickets(office, from, to, through)
}
