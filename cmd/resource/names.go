package main

import (
	"fmt"
	"regexp"
	"strings"
	"unicode"
)

// Name is one identifier spelt every way the generated code needs it.
type Name struct {
	words []string // lower case: "product", "category"
}

var validName = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]*$`)

// parseName splits "ProductCategory", "product_category" or
// "productCategory" into the words "product" and "category".
func parseName(s string) (Name, error) {
	if !validName.MatchString(s) {
		return Name{}, fmt.Errorf("%q is not a name: use letters, digits and _, starting with a letter", s)
	}
	var words []string
	for part := range strings.SplitSeq(s, "_") {
		words = append(words, splitCase(part)...)
	}
	if len(words) == 0 {
		return Name{}, fmt.Errorf("%q is not a name", s)
	}
	return Name{words: words}, nil
}

// splitCase splits at lower-to-upper changes and before the last capital of
// an acronym, so "HTTPServer" is "http" and "server".
func splitCase(s string) []string {
	var words []string
	r := []rune(s)
	start := 0
	for i := 1; i < len(r); i++ {
		lowerToUpper := !unicode.IsUpper(r[i-1]) && unicode.IsUpper(r[i])
		acronymEnd := unicode.IsUpper(r[i-1]) && unicode.IsUpper(r[i]) && i+1 < len(r) && unicode.IsLower(r[i+1])
		if lowerToUpper || acronymEnd {
			words = append(words, strings.ToLower(string(r[start:i])))
			start = i
		}
	}
	if start < len(r) {
		words = append(words, strings.ToLower(string(r[start:])))
	}
	return words
}

// initialisms are written in one case in Go names, as the linters expect.
var initialisms = map[string]bool{
	"acl": true, "api": true, "ascii": true, "cpu": true, "css": true, "dns": true, "eof": true,
	"guid": true, "html": true, "http": true, "https": true, "id": true, "ip": true, "json": true,
	"rpc": true, "sku": true, "sla": true, "smtp": true, "sql": true, "ssh": true, "tcp": true,
	"tls": true, "ttl": true, "udp": true, "ui": true, "uid": true, "uri": true, "url": true,
	"utf8": true, "uuid": true, "vm": true, "xml": true,
}

// Go is the exported Go name: ProductCategory, OwnerID.
func (n Name) Go() string {
	var b strings.Builder
	for _, w := range n.words {
		if initialisms[w] {
			b.WriteString(strings.ToUpper(w))
			continue
		}
		b.WriteString(strings.ToUpper(w[:1]) + w[1:])
	}
	return b.String()
}

// Lower is the unexported Go name: productCategory, idCard.
func (n Name) Lower() string {
	return n.words[0] + Name{words: n.words[1:]}.Go()
}

// Snake is the SQL and JSON name: product_category.
func (n Name) Snake() string { return strings.Join(n.words, "_") }

// Words is the name in prose: "product category".
func (n Name) Words() string { return strings.Join(n.words, " ") }

// Plural is the name of many: only the last word changes.
func (n Name) Plural() Name {
	words := append([]string(nil), n.words...)
	words[len(words)-1] = plural(words[len(words)-1])
	return Name{words: words}
}

var irregularPlurals = map[string]string{"person": "people", "child": "children", "man": "men", "woman": "women"}

func plural(w string) string {
	if p, ok := irregularPlurals[w]; ok {
		return p
	}
	switch {
	case strings.HasSuffix(w, "y") && len(w) > 1 && !strings.ContainsRune("aeiou", rune(w[len(w)-2])):
		return w[:len(w)-1] + "ies"
	case strings.HasSuffix(w, "s"), strings.HasSuffix(w, "x"), strings.HasSuffix(w, "z"),
		strings.HasSuffix(w, "ch"), strings.HasSuffix(w, "sh"):
		return w + "es"
	}
	return w + "s"
}

// Article is "a" or "an", for summaries such as "Get an order".
func (n Name) Article() string {
	if strings.ContainsRune("aeiou", rune(n.words[0][0])) {
		return "an"
	}
	return "a"
}
