package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/talon-mfc/talon/internal/pki"
	"github.com/talon-mfc/talon/queue"
)

// workers runs fn(w, i), i = 0, 1, …, in n goroutines w until stop is
// closed; wait waits for them to end.
func workers(n int, stop <-chan struct{}, fn func(w, i int)) (wait func()) {
	var wg sync.WaitGroup
	for w := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				fn(w, i)
			}
		}()
	}
	return wg.Wait
}

// daemon is a real talond process.
type daemon struct {
	t        *testing.T
	cmd      *exec.Cmd
	base     string
	args     []string
	env      []string // added to the test's environment
	bin      string
	id, raft string
	logs     *bytes.Buffer
	region   *pki.Region // the CA of its Raft port's certificate, if any
}

var (
	portsMu sync.Mutex
	ports   = map[string]bool{}
)

// freePort is a free loopback address, never the same one twice in a run.
func freePort(t *testing.T) string { return freePortOn(t, "127.0.0.1") }

// freePortOn is a free address on host, never the same one twice in a run.
// Its port is below the kernel's ephemeral range (32768 up), so no outgoing
// connection takes it while its node is down for a restart.
func freePortOn(t *testing.T, host string) string {
	portsMu.Lock()
	defer portsMu.Unlock()
	for range 1000 {
		addr := net.JoinHostPort(host, strconv.Itoa(10000+rand.IntN(10000)))
		if ports[addr] {
			continue
		}
		l, err := net.Listen("tcp", addr)
		if err != nil {
			continue
		}
		l.Close()
		ports[addr] = true
		return addr
	}
	t.Fatal("no free port")
	return ""
}

func buildTalond(t *testing.T) string {
	bin := filepath.Join(t.TempDir(), "talond")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	return bin
}

func startDaemon(t *testing.T, bin, dir string, extra ...string) *daemon {
	httpAddr := freePort(t)
	d := &daemon{t: t, bin: bin, base: "http://" + httpAddr,
		args: append([]string{"-data", dir, "-http", httpAddr, "-raft", freePort(t)}, extra...)}
	d.start()
	return d
}

func (d *daemon) start() {
	d.launch()
	d.waitReady()
}

// launch starts the process.
func (d *daemon) launch() {
	d.cmd = exec.Command(d.bin, d.args...)
	d.cmd.Env = append(os.Environ(), d.env...)
	d.logs = new(bytes.Buffer)
	d.cmd.Stdout, d.cmd.Stderr = d.logs, d.logs
	if err := d.cmd.Start(); err != nil {
		d.t.Fatal(err)
	}
	cmd := d.cmd
	d.t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
}

// kill sends SIGKILL and waits for the process to end.
func (d *daemon) kill() {
	if err := d.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		d.t.Fatal(err)
	}
	d.cmd.Wait()
}

// waitReady waits until the node serves the demo region and is ready.
func (d *daemon) waitReady() {
	d.t.Helper()
	logs := d.logs
	deadline := time.Now().Add(30 * time.Second)
	for {
		if code, body := d.get("/api/v1/offices"); code == 200 && strings.Contains(body, "demo-24h") {
			if code, _ := d.get("/readyz"); code == 200 {
				return
			}
		}
		if time.Now().After(deadline) {
			d.t.Fatalf("talond did not become ready:\n%s", logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (d *daemon) get(path string) (int, string) {
	resp, err := http.Get(d.base + path)
	if err != nil {
		return 0, ""
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	b.ReadFrom(resp.Body)
	return resp.StatusCode, b.String()
}

func (d *daemon) post(client *http.Client, path string, body any) (int, map[string]any) {
	js, _ := json.Marshal(body)
	resp, err := client.Post(d.base+path, "application/json", bytes.NewReader(js))
	if err != nil {
		return 0, nil
	}
	defer resp.Body.Close()
	out := map[string]any{}
	json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

// TestKillAndRestart issues tickets and books under concurrent load, kills
// talond with SIGKILL mid-load, restarts it on the same data folder and
// checks that every acknowledged booking and ticket survived and that ticket
// numbers have no gap and no repeat, then continue from the last one.
func TestKillAndRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real processes")
	}
	bin := buildTalond(t)
	dir := t.TempDir()
	d := startDaemon(t, bin, dir)

	loc, _ := queue.LoadLocation("Asia/Barnaul")
	day := time.Now().In(loc).AddDate(0, 0, 2)
	var mu sync.Mutex
	tickets := map[string]bool{}    // acknowledged ticket numbers
	bookings := map[string]string{} // acknowledged booking id → start
	stop := make(chan struct{})
	client := &http.Client{Timeout: 5 * time.Second}
	wait := workers(8, stop, func(w, i int) {
		if w%2 == 0 {
			if code, out := d.post(client, "/api/v1/offices/demo-24h/tickets", map[string]string{"service": "passport"}); code == 201 {
				mu.Lock()
				tickets[out["number"].(string)] = true
				mu.Unlock()
			}
			return
		}
		slot := time.Date(day.Year(), day.Month(), day.Day(), (w*100+i)/4%24, (w*100+i)%4*15, 0, 0, loc).Format(time.RFC3339)
		phone := fmt.Sprintf("7913%d%06d", w, i)
		if code, out := d.post(client, "/api/v1/bookings", map[string]any{"office": "demo-24h", "service": "egrn", "start": slot,
			"applicant": map[string]string{"name": "Тест", "phone": phone}}); code == 201 {
			mu.Lock()
			bookings[out["id"].(string)] = out["start"].(string)
			mu.Unlock()
		}
	})
	time.Sleep(1500 * time.Millisecond)
	if err := d.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	d.cmd.Wait()
	close(stop)
	wait()
	if len(tickets) < 10 || len(bookings) < 10 {
		t.Fatalf("too little load before the kill: %d tickets, %d bookings", len(tickets), len(bookings))
	}

	d.start()
	for id, start := range bookings {
		code, body := d.get("/api/v1/bookings/" + id)
		if code != 200 || !strings.Contains(body, `"start":"`+start+`"`) {
			t.Fatalf("acknowledged booking %s lost: %d %s", id, code, body)
		}
	}
	_, body := d.get("/api/v1/offices/demo-24h/queue")
	var q struct {
		Waiting []struct{ Number string } `json:"waiting"`
	}
	json.Unmarshal([]byte(body), &q)
	var nums []int
	inQueue := map[string]bool{}
	for _, tk := range q.Waiting {
		inQueue[tk.Number] = true
		n, _ := strconv.Atoi(strings.TrimPrefix(tk.Number, "П-"))
		nums = append(nums, n)
	}
	for n := range tickets {
		if !inQueue[n] {
			t.Fatalf("acknowledged ticket %s lost", n)
		}
	}
	sort.Ints(nums)
	for i, n := range nums {
		if n != i+1 {
			t.Fatalf("ticket numbers have a gap or repeat at %d: %v", i, nums)
		}
	}
	code, next := d.post(http.DefaultClient, "/api/v1/offices/demo-24h/tickets", map[string]string{"service": "passport"})
	if want := fmt.Sprintf("П-%03d", len(nums)+1); code != 201 || next["number"] != want {
		t.Fatalf("after restart: %d %v, want %s", code, next, want)
	}
	t.Logf("%d tickets and %d bookings acknowledged before SIGKILL; %d tickets in the state after restart",
		len(tickets), len(bookings), len(nums))
}
