package queue

import (
	"archive/zip"
	"bytes"
	_ "embed"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// Office time zones come from the IANA time zone database embedded here,
// never from the host: two nodes whose operating systems carry different
// tzdata (Russian zones have changed several times) would otherwise compute
// different local days and slots from the same log. zoneinfo.zip is the
// database as the Go toolchain ships it (lib/time/zoneinfo.zip, public
// domain data); go generate copies the current toolchain's, and its release
// goes to zoneinfo.version. Changing it is a change of the domain's rules:
// upgrade every node of a region together.
//
//go:generate sh -c "cp \"$(go env GOROOT)/lib/time/zoneinfo.zip\" zoneinfo.zip && sed -n 's/^DATA=//p' \"$(go env GOROOT)/lib/time/update.bash\" > zoneinfo.version"

//go:embed zoneinfo.zip
var zoneinfo []byte

//go:embed zoneinfo.version
var zoneinfoVersion string

// TZDataVersion is the release of the embedded time zone database (2025c).
func TZDataVersion() string { return strings.TrimSpace(zoneinfoVersion) }

var zones struct {
	once  sync.Once
	files map[string]*zip.File
	err   error
	mu    sync.Mutex
	locs  map[string]*time.Location
}

// LoadLocation is the time zone name from the embedded database. "UTC" is
// UTC; "Local" and names the database lacks are errors.
func LoadLocation(name string) (*time.Location, error) {
	if name == "UTC" {
		return time.UTC, nil
	}
	zones.once.Do(func() {
		r, err := zip.NewReader(bytes.NewReader(zoneinfo), int64(len(zoneinfo)))
		if err != nil {
			zones.err = fmt.Errorf("embedded tzdata: %w", err)
			return
		}
		zones.files, zones.locs = map[string]*zip.File{}, map[string]*time.Location{}
		for _, f := range r.File {
			zones.files[f.Name] = f
		}
	})
	if zones.err != nil {
		return nil, zones.err
	}
	zones.mu.Lock()
	defer zones.mu.Unlock()
	if loc := zones.locs[name]; loc != nil {
		return loc, nil
	}
	f := zones.files[name]
	if f == nil {
		return nil, fmt.Errorf("unknown time zone %.64q", name)
	}
	rc, err := f.Open()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		return nil, err
	}
	loc, err := time.LoadLocationFromTZData(name, data)
	if err != nil {
		return nil, err
	}
	zones.locs[name] = loc
	return loc, nil
}
