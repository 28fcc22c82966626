// Command talonctl administers a talon region cluster through any of its
// nodes' HTTP API.
//
//	talonctl status                      nodes, leader, terms, indexes, lag; exit 1 unless healthy
//	talonctl join <id> <raft-addr>       add a node (promoted to voter once caught up)
//	talonctl remove <id>                 remove a node
//	talonctl transfer-leadership [id]    hand leadership over (planned maintenance)
//	talonctl backup <file>               write a consistent backup of the region
//	talonctl restore <file>              replace the region's state with a backup
//	talonctl region load <file.yaml> [--force]   load a region configuration (offices, services, windows)
//	talonctl close <office> <from> <to> [reason]  close an office at short notice (RFC 3339 times)
//	talonctl reopen <office> <from>      lift that closure
//	talonctl unplaced                    bookings that hold no window time
//	talonctl staffing <office> [date]    which windows to open each hour (default: tomorrow)
//	talonctl keygen <file>               make a talon signing key (Ed25519 seed) if file does not exist
//	talonctl ca <dir> [region]           make the region's CA for the Raft port (ca.crt, ca.key)
//	talonctl cert <ca-dir> <id> <dir> [host…]   make node id's certificate: dir/ca.crt, node.crt, node.key
//	talonctl subscriptions               webhooks with pending and dead-letter counts
//	talonctl subscribe <id> <url> [kinds] [offices]   create or change a webhook (secret: $TALON_WEBHOOK_SECRET)
//	talonctl unsubscribe <id>            remove a webhook
//	talonctl dead <id>                   the notifications a webhook gave up on
//	talonctl replay <id>                 deliver them again, in order
//
// The node is -addr or $TALON_ADDR (default http://127.0.0.1:8080); the admin
// token is -token or $TALON_TOKEN.
package main

import (
	"bytes"
	"cmp"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/talon-mfc/talon/cluster/node"
	"github.com/talon-mfc/talon/internal/pki"
	"github.com/talon-mfc/talon/queue"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "talonctl:", err)
		os.Exit(1)
	}
}

const usage = `usage: talonctl [-addr URL] [-token T] <command>
  -addr   a node's HTTP address (default $TALON_ADDR, else http://127.0.0.1:8080)
  -token  an admin bearer token (default $TALON_TOKEN)
  status                      nodes, leader, terms, indexes and lag (exit 1 unless healthy)
  join <id> <raft-addr>       add a node; it is promoted to voter once caught up
  remove <id>                 remove a node (a dead one, or one being retired)
  transfer-leadership [id]    hand leadership to another voter
  backup <file>               write a consistent backup of the region's state
  restore <file>              replace the region's state with a backup, on every node
  region load <file> [--force]
                              load a region configuration (YAML or JSON); refused when bookings
                              would lose their window time, unless --force (they are told and
                              may move for free)
  close <office> <from> <to> [reason]
                              close an office at short notice (a power cut, a flood); times in
                              RFC 3339, e.g. 2026-12-01T09:00:00+07:00; lists the bookings affected
  reopen <office> <from>      lift the closure that starts at from
  unplaced                    live bookings that hold no window time: move or cancel them
  staffing <office> [date]    the staffing plan of a day (default tomorrow): the windows to open each
                              hour to call 95 % of applicants within 15 minutes (an operator's token will do)
  keygen <file>               make a talon signing key (base64 Ed25519 seed) unless the file exists
  ca <dir> [region]           make the region's CA for the nodes' Raft port: dir/ca.crt and dir/ca.key
                              (keep ca.key off the nodes: whoever holds it can join the region)
  cert <ca-dir> <id> <dir> [host...]
                              make node id's certificate, signed by the CA: dir/ca.crt, node.crt,
                              node.key, for talond -tls-dir dir (hosts: its names and IPs, informative)
  subscriptions               notification webhooks with pending and dead-letter counts
  subscribe <id> <url> [kinds] [offices]
                              create or change a webhook; kinds and offices comma-separated;
                              the signing secret comes from $TALON_WEBHOOK_SECRET
  unsubscribe <id>            remove a webhook and its undelivered notifications
  dead <id>                   the notifications a webhook gave up on
  replay <id>                 deliver the dead letters again, in order`

type client struct {
	addr, token string
	http        *http.Client
}

func run(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("talonctl", flag.ContinueOnError)
	fs.Usage = func() { fmt.Fprintln(fs.Output(), usage) }
	addr := fs.String("addr", env("TALON_ADDR", "http://127.0.0.1:8080"), "a node's HTTP address")
	token := fs.String("token", os.Getenv("TALON_TOKEN"), "admin bearer token")
	if err := fs.Parse(args); err != nil {
		return err
	}
	c := &client{addr: strings.TrimRight(*addr, "/"), token: *token, http: &http.Client{Timeout: 2 * time.Minute}}
	if !strings.Contains(c.addr, "://") {
		c.addr = "http://" + c.addr
	}
	a := fs.Args()
	arg := func(i int) string {
		if i < len(a) {
			return a[i]
		}
		return ""
	}
	switch {
	case arg(0) == "status" && len(a) == 1:
		return c.status(out)
	case arg(0) == "join" && len(a) == 3:
		return c.show(out, "POST", "/api/v1/cluster/join", map[string]string{"id": a[1], "addr": a[2]})
	case arg(0) == "remove" && len(a) == 2:
		return c.show(out, "DELETE", "/api/v1/cluster/nodes/"+a[1], nil)
	case arg(0) == "transfer-leadership" && len(a) <= 2:
		return c.show(out, "POST", "/api/v1/cluster/transfer-leadership", map[string]string{"id": arg(1)})
	case arg(0) == "backup" && len(a) == 2:
		return c.backup(out, a[1])
	case arg(0) == "restore" && len(a) == 2:
		data, err := os.ReadFile(a[1])
		if err != nil {
			return err
		}
		var res map[string]any
		if err := c.do("POST", "/api/v1/cluster/restore", data, &res); err != nil {
			return err
		}
		fmt.Fprintf(out, "restored %s (%d bytes) on every node\n", a[1], len(data))
		return nil
	case arg(0) == "region" && arg(1) == "load" && (len(a) == 3 || len(a) == 4 && a[3] == "--force"):
		return c.loadRegion(out, a[2], len(a) == 4)
	case arg(0) == "close" && (len(a) == 4 || len(a) == 5):
		return c.affected(out, "POST", "/api/v1/offices/"+a[1]+"/closures", map[string]string{"from": a[2], "to": a[3], "reason": arg(4)},
			"office "+a[1]+" closed from "+a[2]+" to "+a[3])
	case arg(0) == "reopen" && len(a) == 3:
		return c.affected(out, "POST", "/api/v1/offices/"+a[1]+"/closures", map[string]string{"from": a[2], "to": a[2]},
			"closure of office "+a[1]+" from "+a[2]+" lifted")
	case arg(0) == "unplaced" && len(a) == 1:
		var res struct{ Bookings []affected }
		if err := c.do("GET", "/api/v1/unplaced-bookings", nil, &res); err != nil {
			return err
		}
		fmt.Fprintf(out, "%d booking(s) hold no window time\n", len(res.Bookings))
		printAffected(out, res.Bookings)
		return nil
	case arg(0) == "staffing" && (len(a) == 2 || len(a) == 3):
		return c.staffing(out, a[1], arg(2))
	case arg(0) == "keygen" && len(a) == 2:
		return keygen(out, a[1])
	case arg(0) == "ca" && (len(a) == 2 || len(a) == 3):
		return makeCA(out, a[1], arg(2))
	case arg(0) == "cert" && len(a) >= 4:
		return makeCert(out, a[1], a[2], a[3], a[4:])
	case arg(0) == "subscriptions" && len(a) == 1:
		return c.showSubs(out, "GET", "/api/v1/subscriptions", nil)
	case arg(0) == "subscribe" && len(a) >= 3 && len(a) <= 5:
		secret := os.Getenv("TALON_WEBHOOK_SECRET")
		if secret == "" {
			return errors.New("set TALON_WEBHOOK_SECRET to the webhook's signing secret (at least 16 characters)")
		}
		return c.showSubs(out, "PUT", "/api/v1/subscriptions/"+a[1], map[string]any{"url": a[2], "secret": secret,
			"kinds": list(arg(3)), "offices": list(arg(4))})
	case arg(0) == "unsubscribe" && len(a) == 2:
		return c.showSubs(out, "DELETE", "/api/v1/subscriptions/"+a[1], nil)
	case arg(0) == "replay" && len(a) == 2:
		return c.showSubs(out, "POST", "/api/v1/subscriptions/"+a[1]+"/replay", nil)
	case arg(0) == "dead" && len(a) == 2:
		var res struct{ Dead []map[string]any }
		if err := c.do("GET", "/api/v1/subscriptions/"+a[1]+"/dead", nil, &res); err != nil {
			return err
		}
		enc := json.NewEncoder(out)
		for _, n := range res.Dead {
			enc.Encode(n)
		}
		fmt.Fprintf(out, "%d dead letters; talonctl replay %s delivers them again\n", len(res.Dead), a[1])
		return nil
	}
	fs.Usage()
	return errors.New("unknown command")
}

func env(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

// do sends a request; body is JSON-encoded unless it is []byte. A non-2xx
// answer becomes an error with the API's code and message.
// apiError is an error answer of the API.
type apiError struct {
	Code, Message string
	Affected      []affected
	call          string
}

func (e *apiError) Error() string { return e.call + " " + e.Code + ": " + e.Message }

func (c *client) do(method, path string, body any, out any) error {
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
	default:
		js, err := json.Marshal(b)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(js)
	}
	req, err := http.NewRequest(method, c.addr+path, rd)
	if err != nil {
		return err
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		var e struct{ Error apiError }
		if json.Unmarshal(raw, &e) == nil && e.Error.Code != "" {
			e.Error.call = fmt.Sprintf("%s %s: %d", method, path, resp.StatusCode)
			return &e.Error
		}
		return fmt.Errorf("%s %s: %s", method, path, resp.Status)
	}
	if b, ok := out.(*[]byte); ok {
		*b = raw
		return nil
	}
	if out != nil {
		return json.Unmarshal(raw, out)
	}
	return nil
}

// show runs a cluster change and prints the nodes after it.
func (c *client) show(out io.Writer, method, path string, body any) error {
	var res struct{ Nodes []node.Member }
	if err := c.do(method, path, body, &res); err != nil {
		return err
	}
	_, err := printNodes(out, res.Nodes)
	return err
}

func (c *client) status(out io.Writer) error {
	var res struct{ Nodes []node.Member }
	if err := c.do("GET", "/api/v1/cluster/nodes", nil, &res); err != nil {
		return err
	}
	problems, err := printNodes(out, res.Nodes)
	if err != nil {
		return err
	}
	if len(problems) > 0 {
		return errors.New("unhealthy: " + strings.Join(problems, "; "))
	}
	fmt.Fprintf(out, "healthy: %d nodes, all ready\n", len(res.Nodes))
	return nil
}

// printNodes prints a table of the nodes and returns what is wrong.
func printNodes(out io.Writer, nodes []node.Member) ([]string, error) {
	w := tabwriter.NewWriter(out, 2, 4, 2, ' ', 0)
	fmt.Fprintln(w, "ID\tRAFT ADDRESS\tSUFFRAGE\tSTATE\tTERM\tCOMMIT\tAPPLIED\tLAG\tREADY")
	var problems []string
	leaders := 0
	for _, n := range nodes {
		st := n.Status
		if st == nil {
			fmt.Fprintf(w, "%s\t%s\t%s\tunreachable\t-\t-\t-\t-\tno\n", n.ID, n.Addr, n.Suffrage)
			problems = append(problems, n.ID+" unreachable: "+n.Error)
			continue
		}
		if st.State == "Leader" {
			leaders++
		}
		ready := "yes"
		if !st.Ready {
			ready = strings.ReplaceAll(cmp.Or(st.NotReady, "no"), "_", " ") // "catching up"
			problems = append(problems, n.ID+" not ready: "+ready)
		}
		if st.Halted != "" {
			ready = "HALTED"
			problems = append(problems, n.ID+" halted: "+st.Halted)
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%d\t%d\t%d\t%d\t%s\n", n.ID, n.Addr, n.Suffrage, st.State, st.Term, st.CommitIndex, st.AppliedIndex, n.Lag, ready)
	}
	if leaders != 1 {
		problems = append(problems, fmt.Sprintf("%d leaders", leaders))
	}
	return problems, w.Flush()
}

func (c *client) backup(out io.Writer, file string) error {
	var data []byte
	if err := c.do("GET", "/api/v1/cluster/backup", nil, &data); err != nil {
		return err
	}
	tmp := file + ".partial"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return err
	}
	if err := os.Rename(tmp, file); err != nil {
		return err
	}
	fmt.Fprintf(out, "wrote %s (%d bytes)\n", file, len(data))
	return nil
}

// affected is a booking that lost its window time.
type affected struct{ ID, Number, Office, Service, Start, Status string }

func printAffected(out io.Writer, bs []affected) {
	if len(bs) == 0 {
		return
	}
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "ID\tNUMBER\tOFFICE\tSERVICE\tSTART\tSTATUS")
	for _, b := range bs {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", b.ID, b.Number, b.Office, b.Service, b.Start, b.Status)
	}
	w.Flush()
}

// affected sends a write that answers the bookings it took window time
// from, and lists them; on bookings_affected it lists those it would have.
func (c *client) affected(out io.Writer, method, path string, body any, done string) error {
	var res struct{ Affected []affected }
	var raw []byte
	err := c.do(method, path, body, &raw)
	var apiErr *apiError
	if errors.As(err, &apiErr) && apiErr.Code == "bookings_affected" {
		fmt.Fprintln(out, apiErr.Message)
		printAffected(out, apiErr.Affected)
		return err
	}
	if err != nil {
		return err
	}
	json.Unmarshal(raw, &res)
	fmt.Fprintf(out, "%s; %d booking(s) lost their window time (each is told, and may move once for free)\n", done, len(res.Affected))
	printAffected(out, res.Affected)
	return nil
}

func (c *client) loadRegion(out io.Writer, file string, force bool) error {
	raw, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	var r queue.Region
	dec := yaml.NewDecoder(bytes.NewReader(raw)) // YAML is a superset of JSON
	dec.KnownFields(true)
	if err := dec.Decode(&r); err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	if err := r.Validate(); err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	path := "/api/v1/region"
	if force {
		path += "?force=true"
	}
	err = c.affected(out, "PUT", path, &r, fmt.Sprintf("region %q loaded: %d offices", r.Name, len(r.Offices)))
	var apiErr *apiError
	if errors.As(err, &apiErr) && apiErr.Code == "bookings_affected" {
		return errors.New("not loaded: rerun with --force to load it anyway")
	}
	return err
}

// keygen writes a new talon signing key to file, unless it exists. Every
// node of a cluster signs with the same key (talond -qr-key or qr_keys).
// makeCA writes a region CA into dir, unless one is there.
func makeCA(out io.Writer, dir, region string) error {
	crt, key := filepath.Join(dir, "ca.crt"), filepath.Join(dir, "ca.key")
	if _, err := os.Stat(key); err == nil {
		fmt.Fprintf(out, "%s exists: kept\n", key)
		return nil
	}
	c, k, err := pki.NewCA(region)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	if err := os.WriteFile(crt, c, 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(key, k, 0o600); err != nil {
		return err
	}
	fmt.Fprintf(out, "wrote %s and %s\n", crt, key)
	return nil
}

// makeCert writes node id's certificate, signed by the CA in caDir, into dir.
func makeCert(out io.Writer, caDir, id, dir string, hosts []string) error {
	c, err := os.ReadFile(filepath.Join(caDir, "ca.crt"))
	if err != nil {
		return err
	}
	k, err := os.ReadFile(filepath.Join(caDir, "ca.key"))
	if err != nil {
		return err
	}
	if err := (&pki.Region{CACert: c, CAKey: k}).WriteNode(dir, id, hosts...); err != nil {
		return err
	}
	fmt.Fprintf(out, "wrote %s/{ca.crt,node.crt,node.key} for node %s\n", dir, id)
	return nil
}

func keygen(out io.Writer, file string) error {
	seed := make([]byte, ed25519.SeedSize)
	if _, err := rand.Read(seed); err != nil {
		return err
	}
	f, err := os.OpenFile(file, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		fmt.Fprintf(out, "%s exists; kept\n", file)
		return nil
	}
	if err != nil {
		return err
	}
	if _, err := fmt.Fprintln(f, base64.StdEncoding.EncodeToString(seed)); err != nil {
		f.Close()
		return err
	}
	pub := ed25519.NewKeyFromSeed(seed).Public().(ed25519.PublicKey)
	fmt.Fprintf(out, "wrote %s; public key %s\n", file, base64.StdEncoding.EncodeToString(pub))
	return f.Close()
}

func list(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}

// showSubs runs a subscriptions request and prints the subscriptions.
func (c *client) showSubs(out io.Writer, method, path string, body any) error {
	var res struct {
		Subscriptions []struct {
			ID, URL        string
			Kinds, Offices []string
			Pending, Dead  int
		}
	}
	if err := c.do(method, path, body, &res); err != nil {
		return err
	}
	w := tabwriter.NewWriter(out, 2, 4, 2, ' ', 0)
	fmt.Fprintln(w, "ID\tURL\tKINDS\tOFFICES\tPENDING\tDEAD")
	for _, s := range res.Subscriptions {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%d\t%d\n", s.ID, s.URL, orAll(s.Kinds), orAll(s.Offices), s.Pending, s.Dead)
	}
	return w.Flush()
}

func orAll(v []string) string {
	if len(v) == 0 {
		return "all"
	}
	return strings.Join(v, ",")
}

// staffing prints an office's staffing plan for date (empty: tomorrow).
func (c *client) staffing(out io.Writer, office, date string) error {
	var res struct {
		Date string
		Plan struct {
			Target          float64
			WindowHours     float64 `json:"window_hours"`
			Within15        float64 `json:"within_15"`
			AllOpenHours    float64 `json:"all_open_hours"`
			AllOpenWithin15 float64 `json:"all_open_within_15"`
			Hours           []struct {
				From           string
				Expected       float64
				ErlangC        int `json:"erlang_c"`
				Windows, Extra []int
				Within15       float64 `json:"within_15"`
			}
		}
	}
	path := "/api/v1/offices/" + office + "/staffing"
	if date != "" {
		path += "?date=" + date
	}
	if err := c.do("GET", path, nil, &res); err != nil {
		return err
	}
	p := res.Plan
	if len(p.Hours) == 0 {
		fmt.Fprintf(out, "office %s is closed on %s\n", office, res.Date)
		return nil
	}
	fmt.Fprintf(out, "office %s on %s: windows to open for %.0f %% within 15 minutes\n", office, res.Date, 100*p.Target)
	w := tabwriter.NewWriter(out, 2, 4, 2, ' ', 0)
	fmt.Fprintln(w, "HOUR\tEXPECTED\tERLANG C\tWINDOWS\tEXTRA, LIKE\tWITHIN 15 MIN")
	for _, h := range p.Hours {
		fmt.Fprintf(w, "%s\t%.1f\t%d\t%s\t%s\t%.1f %%\n", h.From, h.Expected, h.ErlangC, ints(h.Windows), ints(h.Extra), 100*h.Within15)
	}
	w.Flush()
	fmt.Fprintf(out, "following the plan: %.1f window-hours, %.1f %% within 15 minutes (simulated)\n", p.WindowHours, 100*p.Within15)
	fmt.Fprintf(out, "every window all day: %.1f window-hours, %.1f %%\n", p.AllOpenHours, 100*p.AllOpenWithin15)
	return nil
}

func ints(xs []int) string {
	if len(xs) == 0 {
		return "-"
	}
	return strings.Trim(fmt.Sprint(xs), "[]")
}
