// Package benchtest holds what the benchmarks of several packages share:
// CPU time, a figure that other processes on a loaded machine disturb far
// less than wall time, and a loop that times one operation at a time.
package benchtest

import (
	"syscall"
	"testing"
	"time"
)

// CPUTime returns the CPU time this process has used so far, the garbage
// collector's work included.
func CPUTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// ReportCPU reports the process CPU time per operation since start as
// "cpu-ns/op".
func ReportCPU(b *testing.B, start time.Duration) {
	b.ReportMetric(float64(CPUTime()-start)/float64(b.N), "cpu-ns/op")
}

// Loop runs op once per benchmark iteration and, off the clock, undo after
// it. It reports op's CPU seconds per run as "cpu-s/op". op and undo fail
// the benchmark themselves.
func Loop(b *testing.B, op, undo func()) {
	var cpu time.Duration
	b.ResetTimer()
	for b.Loop() {
		start := CPUTime()
		op()
		cpu += CPUTime() - start
		b.StopTimer()
		undo()
		b.StartTimer()
	}
	b.ReportMetric(cpu.Seconds()/float64(b.N), "cpu-s/op")
}
