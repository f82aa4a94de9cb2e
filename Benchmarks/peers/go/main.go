// peers-go: the Go half of Benchmarks/peers/run.sh.
//
// A recursive fib(n) with runtime/trace regions around every call (trace.StartRegion /
// Region.End), against the same fib without them, in one process, in interleaved rounds (a
// different order each round); each figure is a median over the rounds. Overhead per call =
// (instrumented - plain) / calls, calls(n) = 2 fib(n+1) - 1.
//
//	idle       regions with no trace running: StartRegion returns a no-op region
//	recording  regions with trace.Start(io.Discard) running: started before each timed run and
//	           stopped after it, outside the timed region (as swift-pprof's windows are)
//
// The context is a package variable, so the instrumented fib passes no extra argument: the
// cheapest way to use regions. A recorded run is ~75 times slower than a plain one (Go 1.19
// unwinds the stack for each region event), so only the first -recording-rounds rounds time it. Output lines match peers-swift's RESULT lines.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/trace"
	"sort"
	"time"
)

var ctx = context.Background()

func fibPlain(n int) int {
	if n < 2 {
		return n
	}
	return fibPlain(n-1) + fibPlain(n-2)
}

func fibRegion(n int) int {
	r := trace.StartRegion(ctx, "fib")
	v := n
	if n >= 2 {
		v = fibRegion(n-1) + fibRegion(n-2)
	}
	r.End()
	return v
}

func calls(n int) int {
	a, b := 0, 1
	for i := 0; i < n+1; i++ {
		a, b = b, a+b
	}
	return 2*a - 1
}

func median(v []float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

var sink int

func main() {
	n := flag.Int("n", 22, "fib argument (depth)")
	rounds := flag.Int("rounds", 200, "interleaved rounds")
	recordingRounds := flag.Int("recording-rounds", 10,
		"rounds (the first ones) that also time the recording variant: a recorded run is slow")
	flag.Parse()

	variants := []string{"plain", "idle", "recording"}
	measure := func(v string) float64 {
		if v == "recording" {
			if err := trace.Start(io.Discard); err != nil {
				fmt.Fprintln(os.Stderr, "peers-go: trace.Start:", err)
				os.Exit(1)
			}
		}
		start := time.Now()
		var r int
		if v == "plain" {
			r = fibPlain(*n)
		} else {
			r = fibRegion(*n)
		}
		elapsed := time.Since(start)
		if v == "recording" {
			trace.Stop()
		}
		sink += r
		return float64(elapsed.Nanoseconds())
	}
	samples := map[string][]float64{}
	for _, v := range variants {
		measure(v) // warm-up
	}
	for round := 0; round < *rounds; round++ {
		for i := range variants {
			v := variants[(i+round)%len(variants)]
			if v == "recording" && round >= *recordingRounds {
				continue
			}
			samples[v] = append(samples[v], measure(v))
		}
	}
	c := calls(*n)
	fmt.Printf("# peers-go: %s, fib(%d) = %d, %d calls per run, %d interleaved rounds (recording: %d)\n",
		runtime.Version(), *n, fibPlain(*n), c, *rounds, len(samples["recording"]))
	plain := median(samples["plain"])
	for _, v := range variants[1:] {
		inst := median(samples[v])
		fmt.Printf("RESULT\tgo: runtime/trace regions\t%s\t%.3f\t%.0f\t%.0f\t%d\t-\t\n",
			v, (inst-plain)/float64(c), plain, inst, c)
	}
}
