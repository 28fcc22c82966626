package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// pgSchema is the booking schema of the PostgreSQL peer: a counter per
// office and slot that a CHECK keeps at or under the windows, and the
// bookings.
const pgSchema = `
CREATE TABLE slot (office text, start timestamptz, taken int NOT NULL DEFAULT 0, capacity int NOT NULL,
	PRIMARY KEY (office, start), CHECK (taken <= capacity));
CREATE TABLE booking (id bigserial PRIMARY KEY, office text NOT NULL, service text NOT NULL, start timestamptz NOT NULL,
	name text NOT NULL, phone text NOT NULL);`

// startPostgres starts one PostgreSQL server with its default durability
// (fsync, synchronous_commit on) in a fresh cluster folder, creates the
// schema with a counter for every slot of the storm's day, and returns it
// as a peer with a pool of one connection per client.
func startPostgres(b *bench) (*peer, error) {
	dirs := []string{"/usr/lib/postgresql/*/bin"}
	initdb, err := find("initdb", dirs...)
	if err != nil {
		return nil, &missingError{"postgresql", "PostgreSQL's initdb"}
	}
	postgres, err := find("postgres", dirs...)
	if err != nil {
		return nil, &missingError{"postgresql", "PostgreSQL's postgres"}
	}
	// PostgreSQL refuses to run as root: as root, run it as the postgres
	// user, in a folder of its own outside talonbench's private one.
	var cred *syscall.Credential
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return nil, fmt.Errorf("running as root, PostgreSQL needs the postgres user: %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	}
	dir, err := os.MkdirTemp("", "talonbench-pg")
	if err != nil {
		return nil, err
	}
	if cred != nil {
		if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			return nil, err
		}
	}
	data := filepath.Join(dir, "data")
	run := func(path string, args ...string) (*exec.Cmd, *bytes.Buffer) {
		cmd := exec.Command(path, args...)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
		logs := new(bytes.Buffer)
		cmd.Stdout, cmd.Stderr = logs, logs
		return cmd, logs
	}
	if cmd, logs := run(initdb, "-D", data, "-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8"); cmd.Run() != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("initdb: %s", logs)
	}
	addr, err := freePort()
	if err != nil {
		return nil, err
	}
	host, port, _ := net.SplitHostPort(addr)
	clients := strconv.Itoa(b.clients + 10)
	cmd, logs := run(postgres, "-D", data, "-c", "listen_addresses="+host, "-p", port, "-k", dir, "-c", "max_connections="+clients)
	if err := cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	stop := func() {
		cmd.Process.Signal(syscall.SIGINT) // fast shutdown
		select {
		case <-exited:
		case <-time.After(30 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
		os.RemoveAll(dir)
	}
	p, err := pgPeer(b, addr, cmd, exited, logs)
	if err != nil {
		stop()
		return nil, err
	}
	stopPool := p.stop
	p.stop = func() { stopPool(); stop() }
	return p, nil
}

func pgPeer(b *bench, addr string, cmd *exec.Cmd, exited <-chan struct{}, logs *bytes.Buffer) (*peer, error) {
	if err := waitPort(cmd, exited, addr, logs); err != nil {
		return nil, err
	}
	cfg, err := pgxpool.ParseConfig(fmt.Sprintf("postgres://postgres@%s/postgres?sslmode=disable", addr))
	if err != nil {
		return nil, err
	}
	cfg.MaxConns, cfg.MinConns = int32(b.clients), int32(b.clients)
	ctx := context.Background()
	var pool *pgxpool.Pool
	for deadline := time.Now().Add(30 * time.Second); ; { // the port opens before the server takes queries
		if pool, err = pgxpool.NewWithConfig(ctx, cfg); err == nil {
			if err = pool.Ping(ctx); err == nil {
				break
			}
			pool.Close()
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("postgres: %w\n%s", err, tail(logs.String(), 3000))
		}
		time.Sleep(50 * time.Millisecond)
	}
	if _, err := pool.Exec(ctx, pgSchema); err != nil {
		pool.Close()
		return nil, err
	}
	// A counter for every slot of the day in every office (and the first of
	// the next day, which a visit starting in the last slot reaches).
	first, err := time.ParseInLocation(time.DateOnly, day(2), mustZone())
	if err != nil {
		pool.Close()
		return nil, err
	}
	_, err = pool.Exec(ctx, `INSERT INTO slot (office, start, capacity)
		SELECT format('bench-%s', lpad(o::text, 2, '0')), $1::timestamptz + s * interval '15 minutes', $2
		FROM generate_series(1, $3) o, generate_series(0, 96) s`, first, b.region.Windows, b.region.Offices)
	if err != nil {
		pool.Close()
		return nil, err
	}
	fmt.Fprintf(b.out, "postgresql: one server at %s, default durability, a pool of %d connections\n", addr, b.clients)
	return &peer{
		name: "postgresql",
		what: "PostgreSQL, 1 node: guarded UPDATE + INSERT, one transaction",
		book: func(w int, p *pair, idx int) (string, outcome, string) { return pgBook(ctx, pool, p, idx) },
		state: func() (map[string]bool, map[string]int, error) {
			return pgState(ctx, pool)
		},
		pids: func() []int { return append(children(cmd.Process.Pid), cmd.Process.Pid) },
		stop: pool.Close,
	}, nil
}

// pgBook books in one transaction: the counters of the slots the visit
// holds go up where they are under the office's windows; unless every one
// did, the transaction rolls back and the slot is taken.
func pgBook(ctx context.Context, pool *pgxpool.Pool, p *pair, idx int) (string, outcome, string) {
	start, err := time.Parse(time.RFC3339, p.starts[idx])
	if err != nil {
		return "", failed, "bad_start"
	}
	span := slotSpan(p.service)
	var id int64
	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE slot SET taken = taken + 1 WHERE office = $1 AND start >= $2 AND start < $3 AND taken < capacity`,
			p.office, start, start.Add(time.Duration(span)*15*time.Minute))
		if err != nil {
			return err
		}
		if tag.RowsAffected() != int64(span) {
			return errFull
		}
		return tx.QueryRow(ctx, `INSERT INTO booking (office, service, start, name, phone) VALUES ($1, $2, $3, $4, $5) RETURNING id`,
			p.office, p.service, start, "Нагрузочный Тест", fmt.Sprintf("+79%09d", phones.Add(1))).Scan(&id)
	})
	switch {
	case err == errFull:
		return "", conflict, ""
	case err != nil:
		return "", failed, "postgres: " + err.Error()
	}
	return strconv.FormatInt(id, 10), ok, ""
}

func pgState(ctx context.Context, pool *pgxpool.Pool) (map[string]bool, map[string]int, error) {
	ids, taken := map[string]bool{}, map[string]int{}
	rows, err := pool.Query(ctx, `SELECT id FROM booking`)
	if err != nil {
		return nil, nil, err
	}
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, nil, err
		}
		ids[strconv.FormatInt(id, 10)] = true
	}
	if rows.Err() != nil {
		return nil, nil, rows.Err()
	}
	rows, err = pool.Query(ctx, `SELECT office, start, taken FROM slot WHERE taken > 0`)
	if err != nil {
		return nil, nil, err
	}
	zone := mustZone()
	for rows.Next() {
		var office string
		var start time.Time
		var n int
		if err := rows.Scan(&office, &start, &n); err != nil {
			return nil, nil, err
		}
		taken[office+"|"+start.In(zone).Format(time.RFC3339)] = n
	}
	return ids, taken, rows.Err()
}
