package httpapi

import (
	"encoding/json"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/glasshouse/glasshouse/auth"
)

type openapiDocument struct {
	OpenAPI    string                                `json:"openapi"`
	Paths      map[string]map[string]json.RawMessage `json:"paths"`
	Components struct {
		Schemas    map[string]json.RawMessage `json:"schemas"`
		Parameters map[string]struct {
			Name string `json:"name"`
			In   string `json:"in"`
		} `json:"parameters"`
	} `json:"components"`
}

type openapiParam struct {
	Ref  string `json:"$ref"`
	Name string `json:"name"`
	In   string `json:"in"`
}

func loadOpenAPI(t *testing.T, raw []byte) (*openapiDocument, map[string]any) {
	t.Helper()
	var doc openapiDocument
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("openapi.json does not parse: %v", err)
	}
	var generic map[string]any
	if err := json.Unmarshal(raw, &generic); err != nil {
		t.Fatal(err)
	}
	return &doc, generic
}

// TestOpenAPICoversRoutes walks the route table the mux is built from and
// checks that every route, with its path parameters, is documented, and
// that the document names no route the server lacks.
func TestOpenAPICoversRoutes(t *testing.T) {
	doc, _ := loadOpenAPI(t, openapiDoc)
	if !strings.HasPrefix(doc.OpenAPI, "3.0.") {
		t.Fatalf("openapi = %q, want 3.0.x", doc.OpenAPI)
	}
	a := &api{}
	routes := a.routes()
	pathParam := regexp.MustCompile(`\{([a-z]+)\}`)
	served := map[string]bool{}
	for _, rt := range routes {
		key := strings.ToLower(rt.Method) + " " + rt.Pattern
		served[key] = true
		item, ok := doc.Paths[rt.Pattern]
		if !ok {
			t.Errorf("route %s %s: path not documented", rt.Method, rt.Pattern)
			continue
		}
		opRaw, ok := item[strings.ToLower(rt.Method)]
		if !ok {
			t.Errorf("route %s %s: method not documented", rt.Method, rt.Pattern)
			continue
		}
		var op struct {
			OperationID string                     `json:"operationId"`
			Parameters  []openapiParam             `json:"parameters"`
			Responses   map[string]json.RawMessage `json:"responses"`
			Permission  string                     `json:"x-permission"`
		}
		if err := json.Unmarshal(opRaw, &op); err != nil {
			t.Fatalf("%s: %v", key, err)
		}
		if op.Permission != string(rt.Perm) {
			t.Errorf("%s: x-permission %q, route requires %q", key, op.Permission, rt.Perm)
		}
		if op.OperationID == "" || len(op.Responses) == 0 {
			t.Errorf("%s: needs an operationId and responses", key)
		}
		var params []openapiParam
		if raw, ok := item["parameters"]; ok {
			if err := json.Unmarshal(raw, &params); err != nil {
				t.Fatalf("%s parameters: %v", rt.Pattern, err)
			}
		}
		params = append(params, op.Parameters...)
		for _, m := range pathParam.FindAllStringSubmatch(rt.Pattern, -1) {
			if !hasParam(doc, params, m[1], "path") {
				t.Errorf("%s: path parameter %q not documented", key, m[1])
			}
		}
	}
	for p, item := range doc.Paths {
		for m := range item {
			if m == "parameters" {
				continue
			}
			if !served[m+" "+p] {
				t.Errorf("documented %s %s is not a route", strings.ToUpper(m), p)
			}
		}
	}
	for _, s := range []string{"Asset", "AssetPage", "Job", "Insights", "AuditEvent", "Status", "Error"} {
		if _, ok := doc.Components.Schemas[s]; !ok {
			t.Errorf("schema %s missing", s)
		}
	}
}

func hasParam(doc *openapiDocument, params []openapiParam, name, in string) bool {
	for _, p := range params {
		if p.Ref != "" {
			ref := doc.Components.Parameters[strings.TrimPrefix(p.Ref, "#/components/parameters/")]
			p.Name, p.In = ref.Name, ref.In
		}
		if p.Name == name && p.In == in {
			return true
		}
	}
	return false
}

// TestOpenAPIRefsResolve checks every $ref points at something that exists.
func TestOpenAPIRefsResolve(t *testing.T) {
	_, generic := loadOpenAPI(t, openapiDoc)
	var refs []string
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				if s, ok := x.(string); ok && k == "$ref" {
					refs = append(refs, s)
				}
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	walk(generic)
	if len(refs) < 20 {
		t.Fatalf("only %d $refs found; the walk is broken", len(refs))
	}
	sort.Strings(refs)
	for _, ref := range refs {
		parts := strings.Split(strings.TrimPrefix(ref, "#/"), "/")
		var cur any = generic
		for _, p := range parts {
			m, ok := cur.(map[string]any)
			if !ok {
				cur = nil
				break
			}
			cur = m[p]
		}
		if cur == nil {
			t.Errorf("$ref %s does not resolve", ref)
		}
	}
}

func TestOpenAPIServed(t *testing.T) {
	h := newHarness(t, Options{})
	rr := h.get("/api/openapi.json")
	if rr.Code != 200 || rr.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("status %d type %q", rr.Code, rr.Header().Get("Content-Type"))
	}
	doc, _ := loadOpenAPI(t, rr.Body.Bytes())
	if !strings.HasPrefix(doc.OpenAPI, "3.0.") || len(doc.Paths) == 0 {
		t.Errorf("served document: openapi %q, %d paths", doc.OpenAPI, len(doc.Paths))
	}
}

// TestEveryRouteHasPermission: a route without a known permission would be
// refused to everybody (or, worse, left open by mistake), so none may lack one.
func TestEveryRouteHasPermission(t *testing.T) {
	known := map[auth.Permission]bool{}
	for _, p := range auth.All() {
		known[p] = true
	}
	for _, rt := range (&api{}).routes() {
		if !known[rt.Perm] {
			t.Errorf("%s %s: permission %q is not one of auth.All()", rt.Method, rt.Pattern, rt.Perm)
		}
	}
}
