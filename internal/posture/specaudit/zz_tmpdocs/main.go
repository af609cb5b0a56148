package main

import (
	"fmt"
	"strings"

	"github.com/palisade-sec/palisade/internal/posture/specaudit"
)

func main() {
	fmt.Println("| ID | name | severity | OWASP API 2023 | title |\n|---|---|---|---|---|")
	for _, r := range specaudit.Rules() {
		var o []string
		for _, x := range r.OWASP {
			o = append(o, strings.SplitN(x, " ", 2)[0])
		}
		fmt.Printf("| [%s](#%s) | `%s` | %s | %s | %s |\n", r.ID, strings.ToLower(r.ID), r.Name, r.Severity, strings.Join(o, ", "), r.Title)
	}
	fmt.Println()
	for _, r := range specaudit.Rules() {
		fmt.Printf("### %s\n\n**%s** (`%s`) — severity **%s** — %s\n\n%s\n\n*Remediation:* %s\n\n", r.ID, r.Title, r.Name, r.Severity, strings.Join(r.OWASP, "; "), r.Description, r.Remediation)
	}
}
