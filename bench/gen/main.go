package main

import (
	"bufio"
	"flag"
	"fmt"
	"log"
	"math"
	"math/rand/v2"
	"os"
	"strconv"
)

func main() {
	rows := flag.Int("rows", 200000, "number of rows")
	features := flag.Int("features", 10, "number of numeric features")
	shift := flag.Float64("shift", 0, "mean shift of every feature, in standard deviations")
	seed := flag.Uint64("seed", 1, "random seed")
	out := flag.String("o", "", "output file (default stdout)")
	precision := flag.String("precision", "6", "decimals per value, or \"full\" for the shortest round-trip text (Python's repr, pandas' to_csv)")
	flag.Parse()
	digits := -1
	if *precision != "full" {
		d, err := strconv.Atoi(*precision)
		if err != nil || d < 0 {
			log.Fatalf("-precision: %q is not a number of decimals or \"full\"", *precision)
		}
		digits = d
	}
	w := bufio.NewWriterSize(os.Stdout, 1<<20)
	if *out != "" {
		f, err := os.Create(*out)
		if err != nil {
			log.Fatal(err)
		}
		defer f.Close()
		w = bufio.NewWriterSize(f, 1<<20)
	}
	defer w.Flush()
	for j := 0; j < *features; j++ {
		if j > 0 {
			w.WriteByte(',')
		}
		fmt.Fprintf(w, "f%d", j)
	}
	w.WriteByte('\n')
	r := rand.New(rand.NewPCG(*seed, 42))
	buf := make([]byte, 0, 32)
	for i := 0; i < *rows; i++ {
		for j := 0; j < *features; j++ {
			if j > 0 {
				w.WriteByte(',')
			}
			z := (r.Float64() + r.Float64() + r.Float64() + r.Float64() - 2) * math.Sqrt(3)
			if digits < 0 {
				// repr(float): shortest round-trip digits, exponent below 1e-4.
				buf = strconv.AppendFloat(buf[:0], z+*shift, 'g', -1, 64)
			} else {
				buf = strconv.AppendFloat(buf[:0], z+*shift, 'f', digits, 64)
			}
			w.Write(buf)
		}
		w.WriteByte('\n')
	}
}
