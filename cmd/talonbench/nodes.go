package main

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"text/template"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/talon-mfc/talon/internal/pki"
	"github.com/talon-mfc/talon/queue"
)

// node is one real talond process.
type node struct {
	id, http, raft string
	args           []string
	bin            string
	cmd            *exec.Cmd
	logs           *bytes.Buffer
	client         *fasthttp.HostClient
}

// region is the bench region: offices open around the clock, every window
// serves and takes bookings for every service. A passport visit (20
// minutes) holds a window for two slots, the others for one.
type region struct {
	Offices int // offices bench-01 … bench-NN
	Windows int // windows per office: at most that many visits at once
}

// officeConfig is office i as the configuration describes it.
func (r region) officeConfig(i int) queue.OfficeConfig {
	oc := queue.OfficeConfig{ID: r.office(i)}
	for w := 1; w <= r.Windows; w++ {
		oc.Windows = append(oc.Windows, queue.WindowConfig{Number: w, Services: slices.Concat(services, []string{walkIn}), Bookings: true})
	}
	return oc
}

// Services are the bench region's bookable services; walk-in is the one
// booked applicants never use (kiosk tickets only).
var services = []string{"passport", "registration", "egrn", "snils"}

const walkIn = "gosuslugi"

func (r region) office(i int) string { return fmt.Sprintf("bench-%02d", i+1) }

var configTmpl = template.Must(template.New("").Funcs(template.FuncMap{
	"seq": func(n int) []int {
		s := make([]int, n)
		for i := range s {
			s[i] = i + 1
		}
		return s
	},
}).Parse(`# talonbench's region: offices open around the clock.
region:
  name: Бенчмарк
  rules: {slot_minutes: 15, horizon_days: 30, max_reschedules: 3, reschedule_window_days: 30, hold_minutes: 10,
          active_per_service: 1, checkin_early_minutes: 30, checkin_late_minutes: 15, max_recalls: 2}
  services:
    - {id: passport, letter: П, avg_minutes: 20, bookable: true, name: "Паспорт"}
    - {id: registration, letter: Р, avg_minutes: 15, bookable: true, name: "Регистрация"}
    - {id: egrn, letter: Е, avg_minutes: 10, bookable: true, name: "Выписка из ЕГРН"}
    - {id: snils, letter: С, avg_minutes: 10, bookable: true, name: "СНИЛС"}
    - {id: gosuslugi, letter: Г, avg_minutes: 7, bookable: false, name: "Госуслуги"}
  offices:
{{- range $i := seq .Offices}}
    - id: bench-{{printf "%02d" $i}}
      name: "Офис {{$i}}"
      address: "Барнаул"
      timezone: Asia/Barnaul
      hours: {mon: "00:00-24:00", tue: "00:00-24:00", wed: "00:00-24:00", thu: "00:00-24:00", fri: "00:00-24:00", sat: "00:00-24:00", sun: "00:00-24:00"}
      services: [passport, registration, egrn, snils, gosuslugi]
      windows:
{{- range $w := seq $.Windows}}
        - {number: {{$w}}, services: [passport, registration, egrn, snils, gosuslugi], bookings: true}
{{- end}}
{{- end}}
`))

// config is talond's configuration for the bench region.
func (r region) config() []byte {
	var b bytes.Buffer
	configTmpl.Execute(&b, r) // the template is fixed and its data two ints
	return b.Bytes()
}

// writeConfig writes the configuration to dir.
func (r region) writeConfig(dir string) (string, error) {
	path := filepath.Join(dir, "region.yaml")
	return path, os.WriteFile(path, r.config(), 0o644)
}

var (
	portsMu sync.Mutex
	ports   = map[string]bool{}
)

// freePort is a free loopback address, never the same one twice in a run.
func freePort() (string, error) {
	portsMu.Lock()
	defer portsMu.Unlock()
	for {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return "", err
		}
		addr := l.Addr().String()
		l.Close()
		if !ports[addr] {
			ports[addr] = true
			return addr, nil
		}
	}
}

// startCluster starts n talond nodes on loopback (n = 1: a single-node
// cluster) with the bench region and waits until all are ready.
func startCluster(bin, dir string, n int, r region, extra ...string) ([]*node, error) {
	cfg, err := r.writeConfig(dir)
	if err != nil {
		return nil, err
	}
	seed := filepath.Join(dir, "qr.seed")
	key := make([]byte, 32)
	rand.Read(key)
	if err := os.WriteFile(seed, []byte(base64.StdEncoding.EncodeToString(key)+"\n"), 0o600); err != nil {
		return nil, err
	}
	ca, err := pki.NewRegion("bench")
	if err != nil {
		return nil, err
	}
	nodes := make([]*node, n)
	var raftAddrs []string
	for i := range nodes {
		nd := &node{id: fmt.Sprintf("n%d", i+1), bin: bin}
		if nd.http, err = freePort(); err != nil {
			return nil, err
		}
		if nd.raft, err = freePort(); err != nil {
			return nil, err
		}
		nodes[i], raftAddrs = nd, append(raftAddrs, nd.raft)
	}
	for _, nd := range nodes {
		certs := filepath.Join(dir, nd.id+".tls")
		if err := ca.WriteNode(certs, nd.id); err != nil {
			return nil, err
		}
		nd.args = append([]string{"-config", cfg, "-id", nd.id, "-data", filepath.Join(dir, nd.id), "-http", nd.http,
			"-raft", nd.raft, "-qr-key", seed, "-bootstrap-expect", strconv.Itoa(n), "-tls-dir", certs}, extra...)
		if n > 1 {
			nd.args = append(nd.args, "-join", strings.Join(raftAddrs, ","))
		}
		if err := nd.launch(); err != nil {
			stopAll(nodes)
			return nil, err
		}
	}
	for _, nd := range nodes {
		if err := nd.waitReady(60*time.Second, "/api/v1/offices/bench-01"); err != nil {
			stopAll(nodes)
			return nil, err
		}
	}
	return nodes, nil
}

func (nd *node) launch() error {
	nd.cmd = exec.Command(nd.bin, nd.args...)
	nd.logs = new(bytes.Buffer)
	nd.cmd.Stdout, nd.cmd.Stderr = nd.logs, nd.logs
	nd.client = &fasthttp.HostClient{Addr: nd.http, MaxConns: 4096, ReadTimeout: 30 * time.Second, WriteTimeout: 30 * time.Second,
		MaxResponseBodySize: 256 << 20}
	return nd.cmd.Start()
}

// stop sends sig and waits for the process to end.
func (nd *node) stop(sig syscall.Signal) {
	if nd.cmd == nil || nd.cmd.Process == nil {
		return
	}
	nd.cmd.Process.Signal(sig)
	nd.cmd.Wait()
	nd.cmd = nil
}

func stopAll(nodes []*node) {
	for _, nd := range nodes {
		if nd != nil {
			nd.stop(syscall.SIGKILL)
		}
	}
}

// waitReady waits until the node answers 200 at /readyz and at every path
// of also.
func (nd *node) waitReady(within time.Duration, also ...string) error {
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		if allOK(nd, append([]string{"/readyz"}, also...)) {
			return nil
		}
		time.Sleep(5 * time.Millisecond)
	}
	return fmt.Errorf("node %s not ready within %s:\n%s", nd.id, within, tail(nd.logs.String(), 3000))
}

func allOK(nd *node, paths []string) bool {
	for _, p := range paths {
		if code, _, _ := nd.do("GET", p, nil); code != 200 {
			return false
		}
	}
	return true
}

func tail(s string, n int) string { return s[max(0, len(s)-n):] }

// do sends one request; the body, if any, is JSON.
func (nd *node) do(method, path string, body []byte) (int, []byte, error) {
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.Header.SetMethod(method)
	req.SetRequestURI("http://" + nd.http + path)
	if body != nil {
		req.Header.SetContentType("application/json")
		req.SetBody(body)
	}
	if err := nd.client.Do(req, resp); err != nil {
		return 0, nil, err
	}
	return resp.StatusCode(), append([]byte(nil), resp.Body()...), nil
}

// getJSON reads path into v; anything but 200 is an error.
func (nd *node) getJSON(path string, v any) error {
	code, body, err := nd.do("GET", path, nil)
	if err != nil {
		return err
	}
	if code != 200 {
		return fmt.Errorf("GET %s: %d %s", path, code, body)
	}
	return json.Unmarshal(body, v)
}

// status is the node's view of the cluster.
func (nd *node) status() (st struct {
	State        string `json:"state"`
	AppliedIndex uint64 `json:"applied_index"`
}, err error) {
	err = nd.getJSON("/api/v1/cluster", &st)
	return st, err
}

// follower is a node that is not the leader.
func follower(nodes []*node) (*node, error) {
	for _, nd := range nodes {
		if st, err := nd.status(); err == nil && st.State == "Follower" {
			return nd, nil
		}
	}
	return nil, errors.New("no follower")
}

// memory is a process's resident set and its peak, in bytes.
func memory(pid int) (rss, peak int64) {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		kb, _ := strconv.ParseInt(f[1], 10, 64)
		switch f[0] {
		case "VmRSS:":
			rss = kb << 10
		case "VmHWM:":
			peak = kb << 10
		}
	}
	return rss, peak
}

// buildTalond builds talond from this source tree into dir.
func buildTalond(dir string) (string, error) {
	bin := filepath.Join(dir, "talond")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/talon-mfc/talon/cmd/talond").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build talond: %v\n%s", err, out)
	}
	return bin, nil
}

// profile saves a CPU profile of every node, taken over the next seconds,
// to dir as <scenario>-<node>-<state>.pprof; it returns at once and calls
// done when the profiles are written.
func profile(dir, scenario string, nodes []*node, seconds int) (wait func()) {
	var wg sync.WaitGroup
	if dir == "" {
		return wg.Wait
	}
	for _, nd := range nodes {
		st, _ := nd.status()
		wg.Add(1)
		go func() {
			defer wg.Done()
			code, body, err := nd.do("GET", fmt.Sprintf("/debug/pprof/profile?seconds=%d", seconds), nil)
			if err != nil || code != 200 {
				fmt.Fprintf(os.Stderr, "profile of %s: %v %d\n", nd.id, err, code)
				return
			}
			os.WriteFile(filepath.Join(dir, fmt.Sprintf("%s-%s-%s.pprof", scenario, nd.id, strings.ToLower(st.State))), body, 0o644)
		}()
	}
	return wg.Wait
}

// cpuTime is the CPU time a process has used (user and system; /proc
// counts in ticks of 10 ms).
func cpuTime(pid int) time.Duration {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:]) // the name may hold spaces
	if len(f) < 13 {
		return 0
	}
	user, _ := strconv.ParseInt(f[11], 10, 64)
	sys, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(user+sys) * 10 * time.Millisecond
}

// cpuMeter tells how the machine's CPU went during a phase: to each node
// and to talonbench itself (the clients).
type cpuMeter struct {
	nodes []*node
	start []time.Duration
	self  time.Duration
	at    time.Time
}

func meterCPU(nodes []*node) *cpuMeter {
	m := &cpuMeter{nodes: nodes, self: cpuTime(os.Getpid()), at: time.Now()}
	for _, nd := range nodes {
		m.start = append(m.start, cpuTime(nd.cmd.Process.Pid))
	}
	return m
}

func (m *cpuMeter) String() string {
	wall := time.Since(m.at).Seconds()
	var b strings.Builder
	b.WriteString("cpu (cores busy):")
	for i, nd := range m.nodes {
		st, _ := nd.status()
		fmt.Fprintf(&b, " %s %s %.2f,", nd.id, strings.ToLower(st.State), (cpuTime(nd.cmd.Process.Pid)-m.start[i]).Seconds()/wall)
	}
	fmt.Fprintf(&b, " talonbench (clients) %.2f", (cpuTime(os.Getpid())-m.self).Seconds()/wall)
	return b.String()
}
