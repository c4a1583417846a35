package main

import (
	"strings"
	"testing"
)

func TestNames(t *testing.T) {
	tests := []struct {
		in                                  string
		goName, lower, snake, plural, words string
	}{
		{"product", "Product", "product", "product", "products", "product"},
		{"Product", "Product", "product", "product", "products", "product"},
		{"product_category", "ProductCategory", "productCategory", "product_category", "product_categories", "product category"},
		{"ProductCategory", "ProductCategory", "productCategory", "product_category", "product_categories", "product category"},
		{"productCategory", "ProductCategory", "productCategory", "product_category", "product_categories", "product category"},
		{"box", "Box", "box", "box", "boxes", "box"},
		{"person", "Person", "person", "person", "people", "person"},
		{"bus", "Bus", "bus", "bus", "buses", "bus"},
		{"church", "Church", "church", "church", "churches", "church"},
		{"wish", "Wish", "wish", "wish", "wishes", "wish"},
		{"day", "Day", "day", "day", "days", "day"},
		{"HTTPServer", "HTTPServer", "httpServer", "http_server", "http_servers", "http server"},
		{"api_key", "APIKey", "apiKey", "api_key", "api_keys", "api key"},
		{"owner_id", "OwnerID", "ownerID", "owner_id", "owner_ids", "owner id"},
		{"order2line", "Order2line", "order2line", "order2line", "order2lines", "order2line"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			n, err := parseName(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			got := []string{n.Go(), n.Lower(), n.Snake(), n.Plural().Snake(), n.Words()}
			want := []string{tt.goName, tt.lower, tt.snake, tt.plural, tt.words}
			if strings.Join(got, " | ") != strings.Join(want, " | ") {
				t.Errorf("got %q, want %q", got, want)
			}
		})
	}
	for _, bad := range []string{"", "1product", "pro-duct", "prod uct", "_x", "produit€"} {
		if _, err := parseName(bad); err == nil {
			t.Errorf("parseName(%q) succeeded, want an error", bad)
		}
	}
}

func TestParseFields(t *testing.T) {
	fields, err := parseFields("name:string price_cents:int64 description:text? in_stock:bool due:time? ratio:float64 n:int")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range fields {
		got = append(got, f.Go()+" "+f.GoType()+" "+f.ResponseType()+" "+f.Column())
	}
	want := []string{
		"Name string string text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 255)",
		"PriceCents int64 int64 bigint NOT NULL",
		"Description *string *string text CHECK (char_length(description) <= 10000)",
		"InStock bool bool boolean NOT NULL",
		"Due *time.Time *Timestamp timestamptz",
		"Ratio float64 float64 double precision NOT NULL",
		"N int int integer NOT NULL",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("fields:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if tag := fields[0].CreateTag(); !strings.Contains(tag, `binding:"required,min=1,max=255"`) {
		t.Errorf("name create tag = %s", tag)
	}
	if tag := fields[2].CreateTag(); !strings.Contains(tag, `binding:"omitnil,max=10000"`) || !strings.Contains(tag, "x-nullable") {
		t.Errorf("description create tag = %s", tag)
	}
	if tag := fields[3].UpdateTag(); strings.Contains(tag, "binding") {
		t.Errorf("in_stock update tag = %s, want no rules", tag)
	}
	if got := fields[4].FromCreate("req"); got != "(*time.Time)(req.Due)" {
		t.Errorf("due from create = %s", got)
	}
}

func TestParseFieldsRefuses(t *testing.T) {
	tests := []struct{ spec, want string }{
		{"", "no fields"},
		{"name", "want name:type"},
		{"name:str", `unknown type "str"`},
		{"name:string??", "unknown type"},
		{"1name:string", "is not a name"},
		{"na-me:string", "is not a name"},
		{"name:string Name:text", "given twice"},
		{"id:int64", "every resource has"},
		{"created_at:time", "every resource has"},
		{"UpdatedAt:time", "every resource has"},
		{"order:int", "reserved word"},
		{"user:string", "reserved word"},
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			_, err := parseFields(tt.spec)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("parseFields(%q) = %v, want an error with %q", tt.spec, err, tt.want)
			}
		})
	}
}
