package main

import (
	"bytes"
	"fmt"
	"os"
	"runtime/pprof"
)

// fairProfile gathers CPU profiles of one kind of run of the fair phase,
// for -fairprofile: the profiler runs only during those runs, one file per
// round (`go tool pprof` merges the files it is given).
type fairProfile struct {
	name   string
	rounds []*bytes.Buffer
	cur    *bytes.Buffer
}

func newFairProfile(name string) *fairProfile { return &fairProfile{name: name} }

func (p *fairProfile) start() error {
	if *fairProf == "" {
		return nil
	}
	p.cur = new(bytes.Buffer)
	return pprof.StartCPUProfile(p.cur)
}

func (p *fairProfile) stop() {
	if p.cur == nil {
		return
	}
	pprof.StopCPUProfile()
	p.rounds = append(p.rounds, p.cur)
	p.cur = nil
}

// write writes the rounds' profiles to -fairprofile suffixed -<name>-r<round>.
func (p *fairProfile) write() error {
	if len(p.rounds) == 0 {
		return nil
	}
	for i, b := range p.rounds {
		if err := os.WriteFile(fmt.Sprintf("%s-%s-r%d", *fairProf, p.name, i+1), b.Bytes(), 0o644); err != nil {
			return err
		}
	}
	return nil
}
