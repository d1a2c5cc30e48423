// Package gcstest runs an in-process fake GCS server
// (github.com/fsouza/fake-gcs-server) for tests of code that uses package
// storage with gs:// URIs.
package gcstest

import (
	"maps"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fsouza/fake-gcs-server/fakestorage"

	"jpegrestore/storage"
)

// Start starts a fake GCS server on a free loopback port holding bucket with
// objects (object name → content; may be nil), points package storage at it
// and returns its "127.0.0.1:port".
//
// It sets STORAGE_EMULATOR_HOST with t.Setenv, so it cannot be used in
// parallel tests, and resets storage's shared client so the next gs:// call
// uses the emulator. t.Cleanup resets the client again, stops the server and
// restores the variable. Call Start at most once per test: a second call
// would replace the first server.
func Start(t testing.TB, bucket string, objects map[string][]byte) (host string) {
	t.Helper()
	initial := make([]fakestorage.Object, 0, len(objects))
	for _, name := range slices.Sorted(maps.Keys(objects)) {
		initial = append(initial, fakestorage.Object{
			ObjectAttrs: fakestorage.ObjectAttrs{BucketName: bucket, Name: name},
			Content:     objects[name],
		})
	}
	srv, err := fakestorage.NewServerWithOptions(fakestorage.Options{
		InitialObjects: initial,
		Scheme:         "http",
		Host:           "127.0.0.1",
		Port:           0, // httptest picks a free 127.0.0.1 port.
		// Reads use the XML API at the emulator's host; the fake serves it
		// only when PublicHost is the host name without the port.
		PublicHost: "127.0.0.1",
	})
	if err != nil {
		t.Fatalf("gcstest: start fake GCS server: %v", err)
	}
	srv.CreateBucketWithOpts(fakestorage.CreateBucketOpts{Name: bucket})
	u, err := url.Parse(srv.URL())
	if err != nil {
		srv.Stop()
		t.Fatalf("gcstest: fake GCS server URL %q: %v", srv.URL(), err)
	}
	t.Setenv("STORAGE_EMULATOR_HOST", u.Host)
	storage.ResetClientForTest()
	t.Cleanup(func() {
		storage.ResetClientForTest()
		srv.Stop()
	})
	return u.Host
}

// Faults are the rates (0..1) at which a Proxy answers a request with a fault instead of passing
// it on: a 503, a 429, a dropped connection (half of them before the request reaches the server,
// half after its answer, which is then lost), or a slow answer (up to a second late).
type Faults struct {
	Unavailable, TooMany, Drop, Slow float64
	// Seed seeds the draws.
	Seed uint64
}

// Proxy is a fault-injecting HTTP proxy in front of a fake GCS server. It also counts the
// requests it passes on by kind and the bytes of object reads (Traffic).
type Proxy struct {
	mu       sync.Mutex
	rng      *rand.Rand
	faults   Faults
	injected map[string]int
	requests int
	traffic  Traffic
}

// Traffic is what a Proxy passed on: requests by kind ("list", "read" of an object's content,
// "stat" of its metadata, "write", "delete", "other") and the bytes of object content read.
type Traffic struct {
	Requests  map[string]int
	ReadBytes int64
}

// Traffic returns the traffic since the last ResetTraffic.
func (p *Proxy) Traffic() Traffic {
	p.mu.Lock()
	defer p.mu.Unlock()
	return Traffic{Requests: maps.Clone(p.traffic.Requests), ReadBytes: p.traffic.ReadBytes}
}

// ResetTraffic starts counting again.
func (p *Proxy) ResetTraffic() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.traffic = Traffic{}
}

// kind classifies a request of the GCS JSON and XML APIs.
func kind(r *http.Request) string {
	path := r.URL.Path
	switch {
	case r.Method == http.MethodDelete:
		return "delete"
	case strings.HasPrefix(path, "/upload/") || r.Method == http.MethodPost || r.Method == http.MethodPut:
		return "write"
	case strings.HasPrefix(path, "/storage/v1/b/") && strings.HasSuffix(path, "/o"):
		return "list"
	case strings.HasPrefix(path, "/storage/v1/b/") && r.URL.Query().Get("alt") != "media":
		return "stat"
	case r.Method == http.MethodGet:
		return "read"
	}
	return "other"
}

// counter counts the bytes of a response body.
type counter struct {
	http.ResponseWriter
	n int64
}

func (c *counter) Write(b []byte) (int, error) {
	n, err := c.ResponseWriter.Write(b)
	c.n += int64(n)
	return n, err
}

// pass forwards a request and counts it.
func (p *Proxy) pass(rp http.Handler, w http.ResponseWriter, r *http.Request) {
	k := kind(r)
	c := &counter{ResponseWriter: w}
	rp.ServeHTTP(c, r)
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.traffic.Requests == nil {
		p.traffic.Requests = map[string]int{}
	}
	p.traffic.Requests[k]++
	if k == "read" {
		p.traffic.ReadBytes += c.n
	}
}

// Injected returns the faults injected so far, by kind, and the number of requests seen.
func (p *Proxy) Injected() (map[string]int, int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return maps.Clone(p.injected), p.requests
}

// SetFaults changes the rates from the next request on (zero Faults: a plain proxy).
func (p *Proxy) SetFaults(f Faults) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.faults = f
}

// draw picks what happens to one request: "" (pass it on) or a fault kind.
func (p *Proxy) draw() (kind string, delay time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.requests++
	x := p.rng.Float64()
	f := p.faults
	switch {
	case x < f.Unavailable:
		kind = "503"
	case x < f.Unavailable+f.TooMany:
		kind = "429"
	case x < f.Unavailable+f.TooMany+f.Drop/2:
		kind = "drop_before"
	case x < f.Unavailable+f.TooMany+f.Drop:
		kind = "drop_after"
	case x < f.Unavailable+f.TooMany+f.Drop+f.Slow:
		kind, delay = "slow", time.Duration(p.rng.Int64N(int64(time.Second)))
	default:
		return "", 0
	}
	if p.injected == nil {
		p.injected = map[string]int{}
	}
	p.injected[kind]++
	return kind, delay
}

// StartFaulty is Start with a Proxy between package storage and the server: every request may
// meet a fault at the given rates. It returns the proxy, to read what it injected.
func StartFaulty(t testing.TB, bucket string, objects map[string][]byte, f Faults) *Proxy {
	t.Helper()
	server := Start(t, bucket, objects)
	target := &url.URL{Scheme: "http", Host: server}
	p := &Proxy{rng: rand.New(rand.NewPCG(f.Seed, 0x6a70)), faults: f}
	rp := httputil.NewSingleHostReverseProxy(target)
	director := rp.Director
	rp.Director = func(r *http.Request) {
		host := r.Host
		director(r)
		r.Host = host // the fake serves reads only to its public host name
	}
	drop := func(w http.ResponseWriter) {
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				conn.Close()
				return
			}
		}
		panic(http.ErrAbortHandler)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		kind, delay := p.draw()
		switch kind {
		case "503", "429":
			code := map[string]int{"503": http.StatusServiceUnavailable, "429": http.StatusTooManyRequests}[kind]
			http.Error(w, `{"error":{"code":`+kind+`,"message":"injected"}}`, code)
		case "drop_before":
			drop(w)
		case "drop_after":
			rec := httptest.NewRecorder()
			rp.ServeHTTP(rec, r) // the server acts; its answer is lost
			drop(w)
		case "slow":
			time.Sleep(delay)
			p.pass(rp, w, r)
		default:
			p.pass(rp, w, r)
		}
	}))
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL)
	t.Setenv("STORAGE_EMULATOR_HOST", u.Host)
	storage.ResetClientForTest()
	return p
}
