// Package deploy_test validates the deployment files offline: the
// Kubernetes manifests against the Kubernetes API types, the compose file
// with the compose-spec loader, the systemd unit with systemd-analyze, and
// runs the local 3-node cluster script for real.
package deploy_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/valyala/fasthttp"
	yaml3 "go.yaml.in/yaml/v3"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"sigs.k8s.io/yaml"

	"github.com/talon-mfc/talon/cluster"
	"github.com/talon-mfc/talon/internal/testenv"
	"github.com/talon-mfc/talon/metrics"
	"github.com/talon-mfc/talon/queue"
	"github.com/talon-mfc/talon/scheduler"
)

// manifests decodes every document of the files strictly (an unknown or
// misspelt field fails) into its Kubernetes API type, keyed by kind/name.
func manifests(t *testing.T, files ...string) map[string]any {
	out := map[string]any{}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, doc := range regexp.MustCompile(`(?m)^---$`).Split(string(raw), -1) {
			var meta struct {
				Kind     string
				Metadata struct{ Name string }
			}
			if err := yaml.Unmarshal([]byte(doc), &meta); err != nil || meta.Kind == "" {
				t.Fatalf("%s: a document without a kind: %v", f, err)
			}
			var obj any
			switch meta.Kind {
			case "ConfigMap":
				obj = &corev1.ConfigMap{}
			case "Secret":
				obj = &corev1.Secret{}
			case "Service":
				obj = &corev1.Service{}
			case "StatefulSet":
				obj = &appsv1.StatefulSet{}
			case "PodDisruptionBudget":
				obj = &policyv1.PodDisruptionBudget{}
			case "NetworkPolicy":
				obj = &networkingv1.NetworkPolicy{}
			default:
				t.Fatalf("%s: unexpected kind %s", f, meta.Kind)
			}
			if err := yaml.UnmarshalStrict([]byte(doc), obj); err != nil {
				t.Fatalf("%s: %s %s: %v", f, meta.Kind, meta.Metadata.Name, err)
			}
			out[meta.Kind+"/"+meta.Metadata.Name] = obj
		}
	}
	return out
}

func TestKubernetesManifests(t *testing.T) {
	m := manifests(t, "k8s/talon.yaml", "k8s/secret.example.yaml")
	sts := m["StatefulSet/talon"].(*appsv1.StatefulSet)
	peers := m["Service/talon-peers"].(*corev1.Service)
	client := m["Service/talon"].(*corev1.Service)
	pdb := m["PodDisruptionBudget/talon"].(*policyv1.PodDisruptionBudget)
	labels := sts.Spec.Template.Labels

	if sts.Spec.ServiceName != peers.Name || peers.Spec.ClusterIP != "None" || !peers.Spec.PublishNotReadyAddresses {
		t.Error("the StatefulSet needs a headless peer service that publishes not-ready addresses")
	}
	if sts.Spec.PodManagementPolicy != appsv1.ParallelPodManagement {
		t.Error("pods must start in parallel: none is ready before the cluster forms")
	}
	for name, sel := range map[string]map[string]string{"talon-peers": peers.Spec.Selector, "talon": client.Spec.Selector,
		"pdb": pdb.Spec.Selector.MatchLabels, "statefulset": sts.Spec.Selector.MatchLabels} {
		for k, v := range sel {
			if labels[k] != v {
				t.Errorf("%s selects %s=%s, which the pods do not carry", name, k, v)
			}
		}
	}
	if replicas := int(*sts.Spec.Replicas); pdb.Spec.MinAvailable == nil || pdb.Spec.MinAvailable.IntValue() != replicas/2+1 {
		t.Errorf("the disruption budget must keep a majority of %d available", replicas)
	}
	np := m["NetworkPolicy/talon"].(*networkingv1.NetworkPolicy)
	for _, rule := range np.Spec.Ingress {
		for _, p := range rule.Ports {
			if p.Port.IntValue() == 7000 && (len(rule.From) != 1 || rule.From[0].PodSelector == nil ||
				rule.From[0].PodSelector.MatchLabels["app.kubernetes.io/name"] != labels["app.kubernetes.io/name"]) {
				t.Error("only talon pods may reach the Raft port")
			}
		}
	}
	if tls := m["Secret/talon-tls"].(*corev1.Secret); tls.StringData["ca.crt"] == "" || !strings.Contains(strings.Join(
		sts.Spec.Template.Spec.Containers[0].Args, " "), "-tls-dir=/etc/talon-tls") || !slices.ContainsFunc(sts.Spec.Template.Spec.Volumes,
		func(v corev1.Volume) bool { return v.Secret != nil && v.Secret.SecretName == tls.Name }) {
		t.Error("the nodes must read their cluster-port certificate from the talon-tls secret")
	}
	if len(sts.Spec.VolumeClaimTemplates) != 1 {
		t.Error("each node needs its own volume")
	}

	c := sts.Spec.Template.Spec.Containers[0]
	if p := c.ReadinessProbe; p == nil || p.HTTPGet == nil || p.HTTPGet.Path != "/readyz" || p.HTTPGet.Port.String() != "http" {
		t.Error("readiness must be /readyz on the http port")
	}
	if p := c.LivenessProbe; p == nil || p.HTTPGet == nil || p.HTTPGet.Path != "/healthz" {
		t.Error("liveness must be /healthz")
	}
	ports := map[string]int32{}
	for _, p := range c.Ports {
		ports[p.Name] = p.ContainerPort
	}
	args := strings.Join(c.Args, " ")
	replicas := int(*sts.Spec.Replicas)
	if !strings.Contains(args, fmt.Sprintf("-bootstrap-expect=%d", replicas)) {
		t.Errorf("bootstrap-expect must equal the %d replicas: %s", replicas, args)
	}
	for i := range replicas {
		peer := fmt.Sprintf("talon-%d.%s.$(POD_NAMESPACE).svc.cluster.local:%d", i, peers.Name, ports["raft"])
		if !strings.Contains(args, peer) {
			t.Errorf("join must list %s", peer)
		}
	}
	if !strings.Contains(args, fmt.Sprintf("-http=0.0.0.0:%d", ports["http"])) || !strings.Contains(args, fmt.Sprintf("-raft=0.0.0.0:%d", ports["raft"])) {
		t.Errorf("listen addresses do not match the container ports: %s", args)
	}
	vols := map[string]bool{"data": true}
	for _, v := range sts.Spec.Template.Spec.Volumes {
		vols[v.Name] = true
	}
	for _, vm := range c.VolumeMounts {
		if !vols[vm.Name] {
			t.Errorf("mount %s has no volume", vm.Name)
		}
	}

	// The region in the ConfigMap is a valid region; the example config
	// points at where it is mounted.
	var region queue.Region
	dec := yaml3.NewDecoder(strings.NewReader(m["ConfigMap/talon-region"].(*corev1.ConfigMap).Data["region.yaml"]))
	dec.KnownFields(true)
	if err := dec.Decode(&region); err != nil {
		t.Fatal(err)
	}
	if err := region.Validate(); err != nil {
		t.Fatal(err)
	}
	conf := m["Secret/talon"].(*corev1.Secret).StringData["talond.yaml"]
	if !strings.Contains(conf, "region_file: /etc/talon-region/region.yaml") || !slices.ContainsFunc(c.VolumeMounts, func(vm corev1.VolumeMount) bool {
		return vm.MountPath == "/etc/talon-region"
	}) {
		t.Error("the config's region_file must be where the region ConfigMap is mounted")
	}
}

func TestComposeFile(t *testing.T) {
	opts, err := cli.NewProjectOptions([]string{"compose.yaml"}, cli.WithName("talon"))
	if err != nil {
		t.Fatal(err)
	}
	p, err := cli.ProjectFromOptions(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	nodes := 0
	published := map[string]bool{}
	for name, s := range p.Services {
		if len(s.Entrypoint) > 0 && s.Entrypoint[0] == "/usr/local/bin/talonctl" {
			continue // keygen, ca, certs: made once before the nodes start
		}
		nodes++
		cmd := strings.Join(s.Command, " ")
		if !strings.Contains(cmd, "-advertise "+name+":7000") || !strings.Contains(cmd, "-join talon-1:7000,talon-2:7000,talon-3:7000") {
			t.Errorf("%s: %s", name, cmd)
		}
		if _, ok := s.DependsOn["keygen"]; !ok {
			t.Errorf("%s must wait for the shared signing key", name)
		}
		if _, ok := s.DependsOn["certs"]; !ok || !strings.Contains(cmd, "-tls-dir /keys/tls") {
			t.Errorf("%s must speak TLS on its cluster port with the certificate made before it starts", name)
		}
		for _, v := range s.Volumes {
			if v.Source == "ca" {
				t.Errorf("%s mounts the CA's key", name)
			}
		}
		for _, port := range s.Ports {
			if published[port.Published] {
				t.Errorf("port %s published twice", port.Published)
			}
			published[port.Published] = true
		}
	}
	if nodes != 3 {
		t.Errorf("%d talond services, want 3", nodes)
	}
}

func TestDockerfile(t *testing.T) {
	raw, _ := os.ReadFile("Dockerfile")
	mod, _ := os.ReadFile("../go.mod")
	goVersion := regexp.MustCompile(`(?m)^go (\d+\.\d+)`).FindSubmatch(mod)
	if goVersion == nil || !bytes.Contains(raw, []byte("FROM golang:"+string(goVersion[1])+" ")) {
		t.Error("the build stage's Go must match go.mod")
	}
	for _, want := range []string{"./cmd/talond ./cmd/talonctl", "USER 65532:65532", `ENTRYPOINT ["/usr/local/bin/talond"]`} {
		if !bytes.Contains(raw, []byte(want)) {
			t.Errorf("Dockerfile lacks %s", want)
		}
	}
}

// TestSystemdUnit runs systemd-analyze verify on the unit (with ExecStart
// pointing at a binary that exists here): any warning fails.
func TestSystemdUnit(t *testing.T) {
	analyze := testenv.Need(t, "systemd-analyze", "verifying the systemd unit")
	raw, err := os.ReadFile("systemd/talond.service")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Type=notify", "User=talon", "Restart=on-failure", "LimitNOFILE=", "StateDirectory=talon"} {
		if !bytes.Contains(raw, []byte(want)) {
			t.Errorf("the unit lacks %s", want)
		}
	}
	self, _ := os.Executable()
	unit := filepath.Join(t.TempDir(), "talond.service")
	os.WriteFile(unit, bytes.ReplaceAll(raw, []byte("/usr/local/bin/talond"), []byte(self)), 0o644)
	out, err := exec.Command(analyze, "verify", unit).CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
	sysusers, _ := os.ReadFile("systemd/talon.sysusers")
	if !regexp.MustCompile(`(?m)^u talon `).Match(sysusers) {
		t.Error("sysusers must create the talon user")
	}
}

// TestLocalClusterScript runs deploy/local-cluster.sh as the README says,
// waits for talonctl to call the cluster healthy, and stops it.
func TestLocalClusterScript(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and starts a cluster")
	}
	port := freeBase(t)
	cmd := exec.Command("./local-cluster.sh")
	cmd.Env = append(os.Environ(), "TALON_LOCAL_DIR="+t.TempDir(), fmt.Sprintf("TALON_LOCAL_PORT=%d", port))
	out, _ := cmd.StdoutPipe()
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	var seen []string
	timeout := time.After(3 * time.Minute)
wait:
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("the script ended:\n%s", strings.Join(seen, "\n"))
			}
			seen = append(seen, l)
			if strings.HasPrefix(l, "healthy: 3 nodes") {
				break wait
			}
		case <-timeout:
			t.Fatalf("no healthy cluster:\n%s", strings.Join(seen, "\n"))
		}
	}
	cmd.Process.Signal(syscall.SIGTERM)
	go func() {
		for range lines {
		}
	}()
	if err := cmd.Wait(); err != nil {
		t.Logf("script exit: %v", err)
	}
	if c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port)); err == nil {
		c.Close()
		t.Fatal("a node still listens after the script stopped")
	}
}

// freeBase finds an HTTP port p with p..p+2 and the Raft ports p-1080..p-1078
// free.
func freeBase(t *testing.T) int {
	for p := 21081 + os.Getpid()%5000; p < 40000; p += 7 {
		ok := true
		for _, q := range []int{p, p + 1, p + 2, p - 1080, p - 1079, p - 1078} {
			l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", q))
			if err != nil {
				ok = false
				break
			}
			l.Close()
		}
		if ok {
			return p
		}
	}
	t.Fatal("no free ports")
	return 0
}

// TestPrometheusRules checks the scrape config and the rules with promtool
// and runs the alerts' unit tests (rules_test.yml).
func TestPrometheusRules(t *testing.T) {
	promtool := testenv.Need(t, "promtool", "checking the Prometheus rules")
	for _, args := range [][]string{
		{"check", "config", "prometheus/prometheus.yml"},
		{"check", "rules", "prometheus/rules.yml"},
		{"test", "rules", "prometheus/rules_test.yml"},
	} {
		if out, err := exec.Command(promtool, args...).CombinedOutput(); err != nil {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

// TestGrafanaDashboard loads the dashboard as Grafana dashboard JSON
// (required fields, unique panel ids, a 24-column grid without overlaps,
// variables that are defined) and checks that every query names a metric
// that a live node exports or a recording rule of rules.yml.
func TestGrafanaDashboard(t *testing.T) {
	raw, err := os.ReadFile("grafana/talon.json")
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		UID           string `json:"uid"`
		Title         string `json:"title"`
		SchemaVersion int    `json:"schemaVersion"`
		Templating    struct {
			List []struct{ Name, Type string } `json:"list"`
		} `json:"templating"`
		Panels []struct {
			ID         int    `json:"id"`
			Type       string `json:"type"`
			Title      string `json:"title"`
			Datasource struct{ Type, UID string }
			GridPos    struct{ X, Y, W, H int } `json:"gridPos"`
			Targets    []struct {
				RefID string `json:"refId"`
				Expr  string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	if err := dec.Decode(&d); err != nil {
		t.Fatal(err)
	}
	if d.UID == "" || d.Title == "" || d.SchemaVersion < 36 || len(d.Panels) == 0 {
		t.Fatalf("not a dashboard: uid %q title %q schemaVersion %d, %d panels", d.UID, d.Title, d.SchemaVersion, len(d.Panels))
	}
	vars := map[string]bool{}
	for _, v := range d.Templating.List {
		vars[v.Name] = true
	}
	exported := exportedMetrics(t)
	recorded := recordingRules(t)
	used := map[string]bool{}
	ids := map[int]bool{}
	cells := map[[2]int]string{}
	for _, p := range d.Panels {
		if ids[p.ID] || p.ID == 0 {
			t.Errorf("panel %q: id %d missing or repeated", p.Title, p.ID)
		}
		ids[p.ID] = true
		if !slices.Contains([]string{"stat", "timeseries", "gauge", "table", "bargauge"}, p.Type) || p.Title == "" || p.Datasource.Type != "prometheus" {
			t.Errorf("panel %q: type %q, datasource %+v", p.Title, p.Type, p.Datasource)
		}
		g := p.GridPos
		if g.W <= 0 || g.H <= 0 || g.X < 0 || g.X+g.W > 24 {
			t.Errorf("panel %q: gridPos %+v", p.Title, g)
		}
		for x := g.X; x < g.X+g.W; x++ {
			for y := g.Y; y < g.Y+g.H; y++ {
				if other, ok := cells[[2]int{x, y}]; ok {
					t.Fatalf("panels %q and %q overlap", p.Title, other)
				}
				cells[[2]int{x, y}] = p.Title
			}
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			for _, v := range regexp.MustCompile(`\$\{?(\w+)`).FindAllStringSubmatch(tg.Expr+p.Datasource.UID, -1) {
				if !strings.HasPrefix(v[1], "__") && !vars[v[1]] {
					t.Errorf("panel %q uses undefined variable $%s", p.Title, v[1])
				}
			}
			names := regexp.MustCompile(`[a-z_:]*talon_[a-z0-9_:]+`).FindAllString(tg.Expr, -1)
			if tg.RefID == "" || len(names) == 0 {
				t.Errorf("panel %q: query %q names no talon metric", p.Title, tg.Expr)
			}
			for _, n := range names {
				used[n] = true
				if !exported[n] && !recorded[n] {
					t.Errorf("panel %q: %s is neither exported by talond nor recorded in rules.yml", p.Title, n)
				}
			}
		}
	}
	for _, want := range []string{"talon_wait_seconds_bucket", "talon_windows", "office_service:talon_queue_length:max", "talon_raft_leader"} {
		if !used[want] {
			t.Errorf("the dashboard does not show %s", want)
		}
	}
}

// exportedMetrics are the sample names a live node exposes.
func exportedMetrics(t *testing.T) map[string]bool {
	m := metrics.New(nil)
	dir := t.TempDir()
	s, err := cluster.Open(cluster.Config{ID: "n1", Dir: dir, RaftAddr: "127.0.0.1:0", Bootstrap: true, Policy: scheduler.Default{}, ObserveCommit: m.ObserveCommit})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	m.Attach(s, dir)
	defer m.Close()
	for deadline := time.Now().Add(10 * time.Second); !s.Leads(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("not ready")
		}
	}
	// Every labelled family has a child once its event has happened; declare
	// them all by observing one event of each kind.
	tk := &queue.Ticket{Office: "o", Service: "s", Booking: 1}
	for _, k := range []queue.EventKind{queue.EvTicketIssued, queue.EvTicketCheckedIn, queue.EvTicketCalled, queue.EvTicketRecalled,
		queue.EvTicketServed, queue.EvTicketNoShow, queue.EvBookingMade, queue.EvSlotTaken} {
		m.Observe(queue.Event{Kind: k, Office: "o", Ticket: tk, Booking: &queue.Booking{Service: "s"}})
	}
	m.WrapHTTP(func(*fasthttp.RequestCtx) {})(new(fasthttp.RequestCtx))
	m.ObserveNotify("gw", "ok")
	s.Apply(context.Background(), &queue.SetRegion{Region: &queue.Region{Name: "t",
		Services: []queue.Service{{ID: "s", Name: "S", Letter: "С", AvgMinutes: 10}},
		Offices: []queue.OfficeConfig{{ID: "o", Name: "O", Timezone: "Asia/Barnaul", Services: []string{"s"},
			Windows: []queue.WindowConfig{{Number: 1, Services: []string{"s"}}}}}}})
	s.Apply(context.Background(), &queue.Subscribe{Sub: queue.Subscription{ID: "gw", URL: "https://gw.example/", Secret: "0123456789abcdef"}})
	mfs, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, mf := range mfs {
		n := mf.GetName()
		out[n] = true
		if mf.GetType().String() == "HISTOGRAM" {
			out[n+"_bucket"], out[n+"_sum"], out[n+"_count"] = true, true, true
		}
	}
	return out
}

func recordingRules(t *testing.T) map[string]bool {
	raw, err := os.ReadFile("prometheus/rules.yml")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^\s*- record: (\S+)`).FindAllStringSubmatch(string(raw), -1) {
		out[m[1]] = true
	}
	return out
}
