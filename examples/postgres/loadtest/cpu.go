package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// cpuSnap is the CPU time used so far by this process (the Dispatchers and
// the in-process receiver) and by the PostgreSQL server (the postmaster of
// -pgpid and its children), as bench/river's riverbench counts it.
type cpuSnap struct {
	self, pg int64 // ns
	at       time.Time
}

func takeCPU() cpuSnap {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return cpuSnap{self: ru.Utime.Nano() + ru.Stime.Nano(), pg: pgCPU(*pgPID), at: time.Now()}
}

// cpuCols formats the CPU per delivery (µs) between a and b over n
// deliveries: this process (sender and receiver), PostgreSQL (when -pgpid
// is set), and the cores the two kept busy.
func cpuCols(a, b cpuSnap, n int64) string {
	if n <= 0 {
		return ""
	}
	self, pg := b.self-a.self, b.pg-a.pg
	out := fmt.Sprintf("\tproc_cpu_us=%.1f", float64(self)/1e3/float64(n))
	if *pgPID != 0 {
		out += fmt.Sprintf("\tpg_cpu_us=%.1f", float64(pg)/1e3/float64(n))
	}
	return out + fmt.Sprintf("\tcores_busy=%.2f", float64(self+pg)/1e9/b.at.Sub(a.at).Seconds())
}

// pgCPU sums the user and system time of the postmaster pid, its reaped
// children and its live children, from /proc (10 ms ticks). It returns 0
// when pid is 0 or unreadable.
func pgCPU(pid int) int64 {
	if pid == 0 {
		return 0
	}
	const tick = int64(10 * time.Millisecond)
	read := func(pid string) (ppid int, ut, st, cut, cst int64, ok bool) {
		b, err := os.ReadFile("/proc/" + pid + "/stat")
		if err != nil {
			return
		}
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 || i+2 > len(s) {
			return
		}
		f := strings.Fields(s[i+2:]) // f[0] is field 3, the state
		if len(f) < 15 {
			return
		}
		ppid, _ = strconv.Atoi(f[1])
		ut, _ = strconv.ParseInt(f[11], 10, 64)
		st, _ = strconv.ParseInt(f[12], 10, 64)
		cut, _ = strconv.ParseInt(f[13], 10, 64)
		cst, _ = strconv.ParseInt(f[14], 10, 64)
		return ppid, ut, st, cut, cst, true
	}
	_, ut, st, cut, cst, ok := read(strconv.Itoa(pid))
	if !ok {
		return 0
	}
	total := ut + st + cut + cst
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		name := e.Name()
		if name[0] < '0' || name[0] > '9' {
			continue
		}
		if ppid, ut, st, _, _, ok := read(name); ok && ppid == pid {
			total += ut + st
		}
	}
	return total * tick
}

// postmasterPID returns the PID of the postmaster of the server at url
// when it runs on this machine (the parent of a backend's process), or 0.
func postmasterPID(url string) int {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return 0
	}
	defer conn.Close(ctx)
	var backend int
	if err := conn.QueryRow(ctx, "SELECT pg_backend_pid()").Scan(&backend); err != nil {
		return 0
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(backend) + "/stat")
	if err != nil {
		return 0
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 || i+2 > len(s) {
		return 0
	}
	f := strings.Fields(s[i+2:])
	if len(f) < 2 {
		return 0
	}
	ppid, _ := strconv.Atoi(f[1])
	return ppid
}
