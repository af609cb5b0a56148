package main

import (
	"os"

	"github.com/palisade-sec/palisade/internal/posture/specaudit"
)

func main() {
	res, err := specaudit.AuditFiles(os.Args[2:], specaudit.Options{})
	if err != nil {
		panic(err)
	}
	switch os.Args[1] {
	case "text":
		specaudit.WriteText(os.Stdout, res)
	case "json":
		specaudit.WriteJSON(os.Stdout, res)
	case "sarif":
		specaudit.WriteSARIF(os.Stdout, res)
	}
}
