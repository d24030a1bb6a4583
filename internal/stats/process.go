package stats

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"strconv"
)

var processMetrics = []string{
	"/memory/classes/heap/objects:bytes",
	"/memory/classes/heap/stacks:bytes",
	"/memory/classes/total:bytes",
}

// Process returns a document with the process's own figures filled in
// (goroutines, memory, CPU, bytes written); the rest is the caller's. Cheap
// enough to call every second.
func Process() Server {
	samples := make([]metrics.Sample, len(processMetrics))
	for i, name := range processMetrics {
		samples[i].Name = name
	}
	metrics.Read(samples)
	u64 := func(i int) uint64 {
		if samples[i].Value.Kind() == metrics.KindUint64 {
			return samples[i].Value.Uint64()
		}
		return 0
	}
	return Server{
		Goroutines:   runtime.NumGoroutine(),
		HeapBytes:    u64(0),
		StackBytes:   u64(1),
		TotalBytes:   u64(2),
		RSSBytes:     rss(),
		CPUSeconds:   processCPU(),
		WrittenBytes: writtenBytes(),

		RunQueueWaitSeconds: RunQueueWait(),
	}
}

// rss reads VmRSS from /proc/self/status.
func rss() uint64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := bytes.Fields(sc.Bytes())
		if len(f) >= 2 && string(f[0]) == "VmRSS:" {
			kb, _ := strconv.ParseUint(string(f[1]), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// writtenBytes reads wchar from /proc/self/io: every byte the process
// handed to write calls, sockets included.
func writtenBytes() uint64 {
	b, err := os.ReadFile("/proc/self/io")
	if err != nil {
		return 0
	}
	for line := range bytes.Lines(b) {
		if v, ok := bytes.CutPrefix(line, []byte("wchar:")); ok {
			n, _ := strconv.ParseUint(string(bytes.TrimSpace(v)), 10, 64)
			return n
		}
	}
	return 0
}

// processCPU reads utime+stime from /proc/self/stat, in seconds.
func processCPU() float64 {
	b, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		return 0
	}
	// Fields after the command name, which is in parentheses and may hold spaces.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0
	}
	f := bytes.Fields(b[i+1:])
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseUint(string(f[11]), 10, 64)
	st, _ := strconv.ParseUint(string(f[12]), 10, 64)
	return float64(ut+st) / 100 // USER_HZ is 100 on Linux
}

// RunQueueWait is how long the process's threads have waited for a CPU while
// ready to run, in seconds: the second field of each thread's
// /proc/self/task/*/schedstat (threads that exited are not counted; the Go
// runtime seldom ends one). 0 where there is no /proc.
func RunQueueWait() float64 {
	tasks, _ := filepath.Glob("/proc/self/task/*/schedstat")
	var ns uint64
	for _, p := range tasks {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		if f := bytes.Fields(b); len(f) >= 2 {
			n, _ := strconv.ParseUint(string(f[1]), 10, 64)
			ns += n
		}
	}
	return float64(ns) / 1e9
}
