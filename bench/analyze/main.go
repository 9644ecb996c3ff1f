package main

import (
	"encoding/json"
	"flag"
	"log"
	"os"
	"runtime"
	"runtime/pprof"
	"strings"
	"sync"
	"time"

	"github.com/vigilml/vigil/analysis"
	"github.com/vigilml/vigil/store/format"
)

func open(path string) analysis.Rows {
	// As starter analyze opens local CSV files.
	rows, _, err := format.OpenCSVFile(path, format.Options{})
	if err != nil {
		log.Fatal(err)
	}
	return rows
}

func main() {
	ref := flag.String("reference", "", "reference CSV")
	cur := flag.String("current", "", "current CSV")
	methods := flag.String("methods", "ks,wasserstein", "drift methods to compute")
	exactLimit := flag.Int("exact-limit", 0, "analysis.Options.ExactLimit (0 = default)")
	out := flag.String("o", "", "report file (default: discard)")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile to this file")
	memprofile := flag.String("memprofile", "", "write an allocation profile to this file")
	flag.Parse()
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			log.Fatal(err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			log.Fatal(err)
		}
		defer pprof.StopCPUProfile()
	}
	if *memprofile != "" {
		runtime.MemProfileRate = 64 << 10
		defer func() {
			f, err := os.Create(*memprofile)
			if err != nil {
				log.Fatal(err)
			}
			defer f.Close()
			if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
				log.Fatal(err)
			}
		}()
	}
	opts := analysis.Options{ExactLimit: *exactLimit}
	start := time.Now()

	r := open(*ref)
	var sample [][]string
	for len(sample) < analysis.SchemaSampleRows && r.Next() {
		sample = append(sample, append([]string(nil), r.Row()...))
	}
	schema, err := analysis.InferSchema(r.Columns(), sample, opts)
	if err != nil {
		log.Fatal(err)
	}
	var refP, curP *analysis.Profile
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		pr := analysis.NewProfiler(schema, opts)
		for _, row := range sample {
			pr.Add(row)
		}
		if err := pr.AddRows(r); err != nil {
			log.Fatal(err)
		}
		refP = pr.Profile()
	}()
	curP, err = analysis.ProfileRows(open(*cur), schema, opts)
	if err != nil {
		log.Fatal(err)
	}
	wg.Wait()
	log.Printf("profiled both windows in %v", time.Since(start))
	var first *analysis.Report
	for _, m := range strings.Split(*methods, ",") {
		o := opts
		o.DriftMethod = m
		rep, err := analysis.CompareProfiles(refP, curP, o)
		if err != nil {
			log.Fatal(err)
		}
		if first == nil {
			first = rep
		}
		log.Printf("%v %s: mode=%s drifted %d/%d features, %s statistic of %s = %.6g",
			time.Since(start), m, rep.Mode, rep.DatasetDrift.DriftedFeatures, rep.DatasetDrift.Tested, m, rep.Features[0].Name, rep.Features[0].Drift.Statistic)
	}
	if *out != "" {
		b, _ := json.MarshalIndent(first, "", "  ")
		if err := os.WriteFile(*out, b, 0o644); err != nil {
			log.Fatal(err)
		}
	}
}
