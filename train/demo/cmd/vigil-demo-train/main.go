package main

import (
	"fmt"
	"os"

	"github.com/vigilml/vigil/train/demo"
)

func main() {
	if err := demo.RunTrainer(os.Args[1:], os.Getenv, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "vigil-demo-train:", err)
		os.Exit(1)
	}
}
