// Go peers of weft's sync-primitive workloads (bench/mutex_contended.cpp,
// bench/channel_mpmc.cpp). Built by scripts/bench-peers.sh as a standalone
// module (no dependencies, GOPROXY=off) in the peer-harness copy.
// Usage: go_sync <workload> [size]
//
//	mutex_contended [pairs per goroutine, default 1,000,000]  (4 goroutines)
//	channel_mpmc    [messages, default 4,000,000]             (4 producers, 4 consumers)
//
// GOMAXPROCS=2, one timed iteration per process.
// Prints one line: RESULT go.<workload> k=v ...
package main

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"sync"
	"time"
)

const (
	tasks     = 4
	producers = 4
	consumers = 4
	capacity  = 1024
)

// mutex_contended: 4 goroutines each lock/unlock one sync.Mutex `pairs`
// times, incrementing the counter it guards. sync.Mutex is a blocking mutex
// (spins, then parks the goroutine in the runtime), not an async one.
func mutexContended(pairs uint64) string {
	var mu sync.Mutex
	var counter uint64
	var wg sync.WaitGroup
	wg.Add(tasks)
	t0 := time.Now()
	for t := 0; t < tasks; t++ {
		go func() {
			defer wg.Done()
			for i := uint64(0); i < pairs; i++ {
				mu.Lock()
				counter++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	dt := time.Since(t0).Seconds()
	total := uint64(tasks) * pairs
	if counter != total {
		panic("mutex_contended: lost updates")
	}
	return fmt.Sprintf("tasks=%d pairs=%d time_ms=%.3f ops_per_s=%.0f variant=sync_mutex_blocking",
		tasks, total, dt*1e3, float64(total)/dt)
}

// channel_mpmc: one buffered chan uint64 of capacity 1024 (natively MPMC),
// 4 producers, 4 consumers ranging over it; closed after all producers end.
func channelMPMC(messages uint64) string {
	per := messages / producers
	messages = per * producers
	ch := make(chan uint64, capacity)
	sums := make([]uint64, consumers)
	var pwg, cwg sync.WaitGroup
	pwg.Add(producers)
	cwg.Add(consumers)
	t0 := time.Now()
	for c := 0; c < consumers; c++ {
		go func(c int) {
			defer cwg.Done()
			var s uint64
			for v := range ch {
				s += v
			}
			sums[c] = s
		}(c)
	}
	for p := uint64(0); p < producers; p++ {
		go func(p uint64) {
			defer pwg.Done()
			for i := p * per; i < (p+1)*per; i++ {
				ch <- i
			}
		}(p)
	}
	pwg.Wait()
	close(ch)
	cwg.Wait()
	dt := time.Since(t0).Seconds()
	var sum uint64
	for _, s := range sums {
		sum += s
	}
	if sum != messages*(messages-1)/2 {
		panic("channel_mpmc: bad sum")
	}
	return fmt.Sprintf("producers=%d consumers=%d messages=%d time_ms=%.3f msgs_per_s=%.0f variant=buffered_chan",
		producers, consumers, messages, dt*1e3, float64(messages)/dt)
}

func main() {
	runtime.GOMAXPROCS(2)
	wl := "mutex_contended"
	if len(os.Args) > 1 {
		wl = os.Args[1]
	}
	size := uint64(0)
	if len(os.Args) > 2 {
		if v, err := strconv.ParseUint(os.Args[2], 10, 64); err == nil {
			size = v
		}
	}
	def := func(d uint64) uint64 {
		if size > 0 {
			return size
		}
		return d
	}
	var line string
	switch wl {
	case "mutex_contended":
		line = mutexContended(def(1000000))
	case "channel_mpmc":
		line = channelMPMC(def(4000000))
	default:
		fmt.Fprintf(os.Stderr, "unknown workload %s (mutex_contended | channel_mpmc)\n", wl)
		os.Exit(2)
	}
	fmt.Printf("RESULT go.%s %s\n", wl, line)
}
