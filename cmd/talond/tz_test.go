package main

import (
	"archive/zip"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/talon-mfc/talon/queue"
)

// hostileZoneinfo writes a time zone database in which Asia/Barnaul is
// Moscow time (UTC+3, not +7): what a host with other tzdata would hold.
func hostileZoneinfo(t *testing.T) string {
	r, err := zip.OpenReader("../../queue/zoneinfo.zip")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	read := func(name string) []byte {
		for _, f := range r.File {
			if f.Name == name {
				rc, _ := f.Open()
				defer rc.Close()
				b, _ := io.ReadAll(rc)
				return b
			}
		}
		t.Fatalf("no %s", name)
		return nil
	}
	moscow, barnaul := read("Europe/Moscow"), read("Asia/Barnaul")
	// The test means something only if the two differ now.
	m, _ := time.LoadLocationFromTZData("Asia/Barnaul", moscow)
	b, _ := time.LoadLocationFromTZData("Asia/Barnaul", barnaul)
	if _, om := time.Now().In(m).Zone(); om == func() int { _, o := time.Now().In(b).Zone(); return o }() {
		t.Fatal("Moscow and Barnaul have the same offset: pick other zones")
	}
	path := filepath.Join(t.TempDir(), "zoneinfo.zip")
	out, _ := os.Create(path)
	w := zip.NewWriter(out)
	for _, f := range r.File {
		data := read(f.Name)
		if f.Name == "Asia/Barnaul" {
			data = moscow
		}
		fw, _ := w.CreateHeader(&zip.FileHeader{Name: f.Name, Method: zip.Store})
		fw.Write(data)
	}
	w.Close()
	out.Close()
	return path
}

// TestHostTZDataDoesNotMatter: a cluster whose nodes' hosts disagree on
// Asia/Barnaul (ZONEINFO points one node at a database in which it is
// Moscow time) computes the same slots on every node, because the domain
// reads its own embedded database.
func TestHostTZDataDoesNotMatter(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real processes")
	}
	nodes := newNodes(t, buildTalond(t), 3)
	nodes[0].env = []string{"ZONEINFO=" + hostileZoneinfo(t)}
	startAll(t, nodes)
	tomorrow := time.Now().AddDate(0, 0, 1).Format(time.DateOnly)
	var want string
	for _, d := range nodes {
		code, body := d.get("/api/v1/offices/brn-center/slots?service=passport&days=7&date=" + tomorrow + "&consistency=linearizable")
		if code != 200 || !strings.Contains(body, `"start"`) {
			t.Fatalf("%s: %d %s", d.id, code, body)
		}
		if want == "" {
			want = body
		} else if body != want {
			t.Fatalf("%s computes other slots than %s:\n%s\n%s", d.id, nodes[0].id, body, want)
		}
	}
	if code, body := nodes[0].get("/api/v1/cluster"); code != 200 || !strings.Contains(body, `"tzdata":"`+queue.TZDataVersion()+`"`) {
		t.Fatalf("the tzdata version is not shown: %s", body)
	}
}
