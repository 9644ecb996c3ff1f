package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"log"
	"math/rand/v2"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/parquet-go/parquet-go"

	"github.com/vigilml/vigil/config"
	"github.com/vigilml/vigil/store"
)

func main() {
	rows := flag.Int("rows", 1_000_000, "rows in all objects")
	objects := flag.Int("objects", 100, "objects")
	features := flag.Int("features", 50, "float64 columns")
	shift := flag.Float64("shift", 0, "mean shift of every column, in standard deviations")
	seed := flag.Uint64("seed", 1, "random seed")
	format := flag.String("format", "parquet", "csv | parquet")
	uri := flag.String("uri", "", "store root: s3://bucket/prefix or file://dir")
	endpoint := flag.String("s3-endpoint", "", "S3 endpoint (moto: http://127.0.0.1:PORT)")
	flag.Parse()
	if *uri == "" || (*format != "csv" && *format != "parquet") || *objects < 1 {
		log.Fatal("usage: shardgen -uri s3://bucket/prefix [-s3-endpoint URL] [-rows N] [-objects N] [-features N] [-format csv|parquet]")
	}
	st := store.New(config.Storage{S3: config.S3{Endpoint: *endpoint, PathStyle: *endpoint != "", Region: "us-east-1"}})
	names := make([]string, *features)
	for j := range names {
		names[j] = fmt.Sprintf("f%d", j) // as bench/gen names them
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	var failed atomic.Bool
	for range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= *objects || failed.Load() {
					return
				}
				n := *rows / *objects
				if i < *rows%*objects {
					n++
				}
				rng := rand.New(rand.NewPCG(*seed, uint64(i)))
				var data []byte
				var err error
				if *format == "csv" {
					data = csvObject(rng, names, n, *shift)
				} else {
					data, err = parquetObject(rng, names, n, *shift)
				}
				if err == nil {
					_, err = st.PutObject(context.Background(), *uri, fmt.Sprintf("2026/03/01/10/part-%03d.%s", i, *format), data)
				}
				if err != nil {
					log.Printf("object %d: %v", i, err)
					failed.Store(true)
					return
				}
			}
		}()
	}
	wg.Wait()
	if failed.Load() {
		log.Fatal("shardgen failed")
	}
}

func csvObject(rng *rand.Rand, names []string, n int, shift float64) []byte {
	var b bytes.Buffer
	for j, name := range names {
		if j > 0 {
			b.WriteByte(',')
		}
		b.WriteString(name)
	}
	b.WriteByte('\n')
	buf := make([]byte, 0, 32)
	for range n {
		for j := range names {
			if j > 0 {
				b.WriteByte(',')
			}
			b.Write(strconv.AppendFloat(buf[:0], rng.NormFloat64()+shift, 'g', -1, 64))
		}
		b.WriteByte('\n')
	}
	return b.Bytes()
}

func parquetObject(rng *rand.Rand, names []string, n int, shift float64) ([]byte, error) {
	group := parquet.Group{}
	for _, name := range names {
		group[name] = parquet.Leaf(parquet.DoubleType)
	}
	schema := parquet.NewSchema("bench", group)
	var b bytes.Buffer
	w := parquet.NewWriter(&b, schema, parquet.MaxRowsPerRowGroup(64<<10))
	batch := make([]parquet.Row, 0, 1024)
	cols := len(schema.Columns())
	for r := range n {
		row := make(parquet.Row, cols)
		for j := range cols {
			row[j] = parquet.DoubleValue(rng.NormFloat64()+shift).Level(0, 0, j)
		}
		batch = append(batch, row)
		if len(batch) == cap(batch) || r == n-1 {
			if _, err := w.WriteRows(batch); err != nil {
				return nil, err
			}
			batch = batch[:0]
		}
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
