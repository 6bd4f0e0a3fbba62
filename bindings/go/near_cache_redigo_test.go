// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)

//go:build ebpfaccel_near_cache

package ebpfaccel

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gomodule/redigo/redis"
)

// An unmodified Go client (redigo, Debian's golang-github-gomodule-redigo-dev)
// through the near cache: the same answers as a connection Redis answers
// itself, hits answered on the client's host, pipelines in order.
func TestNearCacheRedigo(t *testing.T) {
	var near, plain redis.Conn
	dial := func(c *redis.Conn) func(string) {
		return func(server string) {
			var err error
			if *c, err = redis.Dial("tcp", server); err != nil {
				t.Fatal(err)
			}
		}
	}
	// plain: outside the clients' cgroup, Redis answers it
	cache, srv := nearSetup(t, 5000, dial(&near), dial(&plain))
	defer near.Close()
	defer plain.Close()

	// values of every shape the cache keeps or passes: empty, binary with
	// CRLF, both size classes, above the largest cached, missing, wrong type
	values := map[string]string{
		"empty": "", "crlf": "a\r\nb\r\n", "nul": "x\x00y", "small": "hello",
		"large": strings.Repeat("L", 3000), "max": strings.Repeat("M", 4096),
		"huge": strings.Repeat("H", 5000),
	}
	keys := []string{"missing", "alist"}
	for k, v := range values {
		if _, err := plain.Do("SET", k, v); err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k)
	}
	if _, err := plain.Do("RPUSH", "alist", "x"); err != nil {
		t.Fatal(err)
	}
	same := func(round int) {
		for _, k := range keys {
			got, gerr := near.Do("GET", k)
			want, werr := plain.Do("GET", k)
			if !reflect.DeepEqual(got, want) || fmt.Sprint(gerr) != fmt.Sprint(werr) {
				t.Fatalf("round %d GET %s: near %q (%v), Redis %q (%v)", round, k, got, gerr, want, werr)
			}
		}
	}
	// fills need the engine's confirmation: GET until the small one hits
	for i := 0; i < 200 && mustNearStats(t, cache).Hits == 0; i++ {
		same(i)
		time.Sleep(10 * time.Millisecond)
	}
	s0, calls := mustNearStats(t, cache), srv.getCalls(t)
	const rounds = 50
	for i := 0; i < rounds; i++ {
		same(i)
	}
	s1, plainGets := mustNearStats(t, cache), rounds*len(keys)
	// answerable: the 6 values up to 4096 bytes; not huge, missing or the
	// list. Redis saw every plain GET and the near ones not answered.
	hits := s1.Hits - s0.Hits
	if hits < 5*rounds || srv.getCalls(t)-calls != plainGets+rounds*len(keys)-int(hits) {
		t.Errorf("%d GETs of %d keys: %d answered on the client's host, Redis saw %d",
			rounds*len(keys), len(keys), hits, srv.getCalls(t)-calls)
	}
	t.Logf("%d near GETs of %d keys: %d answered on the client's host", rounds*len(keys), len(keys), hits)

	// a pipeline: the batch passes to Redis, its replies come in order,
	// a write inside it is read back by the GET behind it
	for i := 0; i < 20; i++ {
		v := fmt.Sprintf("v%d", i)
		near.Send("GET", "small")
		near.Send("SET", "small", v)
		near.Send("GET", "small")
		near.Send("GET", "missing")
		if err := near.Flush(); err != nil {
			t.Fatal(err)
		}
		prev := "hello"
		if i > 0 {
			prev = fmt.Sprintf("v%d", i-1)
		}
		for j, want := range []interface{}{[]byte(prev), "OK", []byte(v), nil} {
			got, err := near.Receive()
			if err != nil || !reflect.DeepEqual(got, want) {
				t.Fatalf("pipeline %d reply %d: %q (%v), want %q", i, j, got, err, want)
			}
		}
	}
	// after the pipelines, single GETs are answered locally again
	before := mustNearStats(t, cache).Hits
	for i := 0; i < 200 && mustNearStats(t, cache).Hits == before; i++ {
		if got, err := redis.String(near.Do("GET", "small")); err != nil || got != "v19" {
			t.Fatalf("GET after the pipelines: %q (%v)", got, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if mustNearStats(t, cache).Hits == before {
		t.Error("no local answer after the pipelines")
	}
	// another client's write reaches the near connection (tracking)
	if _, err := plain.Do("SET", "small", "from-elsewhere"); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		got, err := redis.String(near.Do("GET", "small"))
		if err == nil && got == "from-elsewhere" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("another client's SET not seen within the staleness bound: %q (%v)", got, err)
		}
		time.Sleep(time.Millisecond)
	}
}
