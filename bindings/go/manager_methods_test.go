package mpipc

import (
	"encoding/json"
	"os"
	"reflect"
	"sort"
	"strings"
	"testing"
)

// Every method of every manager kind is reachable from this binding's
// proxies: the method table (docs/manager-methods.json, generated from the
// server's table of kinds and kept equal to it by a Rust test) against the
// proxy types' methods, by name. A protocol method `compare_and_set` is
// the Go method `CompareAndSet`; one exposed under another name is in
// methodAliases, one deliberately not exposed in methodsNotExposed, each
// with the reason. A new method in the table fails here until a proxy has
// it or one of these maps says why not.

// The proxy type of each kind.
var kindProxies = map[string]reflect.Type{
	"dict":              reflect.TypeOf(&DictProxy{}),
	"list":              reflect.TypeOf(&ListProxy{}),
	"set":               reflect.TypeOf(&SetProxy{}),
	"namespace":         reflect.TypeOf(&NamespaceProxy{}),
	"value":             reflect.TypeOf(&ValueProxy{}),
	"lock":              reflect.TypeOf(&LockProxy{}),
	"rlock":             reflect.TypeOf(&LockProxy{}),
	"semaphore":         reflect.TypeOf(&SemaphoreProxy{}),
	"bounded_semaphore": reflect.TypeOf(&SemaphoreProxy{}),
	"event":             reflect.TypeOf(&EventProxy{}),
	"queue":             reflect.TypeOf(&QueueProxy{}),
	"condition":         reflect.TypeOf(&ConditionProxy{}),
	"barrier":           reflect.TypeOf(&BarrierProxy{}),
	"array":             reflect.TypeOf(&ArrayProxy{}),
}

// "kind.method" -> the Go method that calls it.
var methodAliases = map[string]string{
	"dict.del":                    "Delete",
	"dict.popitem":                "PopItem",
	"dict.setdefault":             "SetDefault",
	"list.getitem":                "Get",
	"list.setitem":                "Set",
	"list.delitem":                "Delete",
	"list.getslice":               "Slice",
	"list.setslice":               "SetSlice",
	"list.delslice":               "DeleteSlice",
	"namespace.getattr":           "Get",
	"namespace.setattr":           "Set",
	"namespace.delattr":           "Delete",
	"array.getitem":               "Get",
	"array.setitem":               "Set",
	"array.setslice":              "SetSlice",
	"array.getslice":              "Slice",
	"array.tolist":                "ToList",
	"semaphore.get_value":         "Value",
	"bounded_semaphore.get_value": "Value",
}

// "kind.method" -> why no proxy method calls it.
var methodsNotExposed = map[string]string{
	// The core's client asks for the replica itself (every binding reads a
	// local dict through it); it is not a method a user calls.
	"dict.replica": "used by the client library",
	// The same call as setdefault (SetDefault), under another name.
	"dict.get_or_set": "SetDefault",
	// The same answer as members (Members).
	"set.copy": "Members",
}

// goName is the Go method name of protocol method m: compare_and_set ->
// CompareAndSet.
func goName(m string) string {
	parts := strings.Split(m, "_")
	for i, p := range parts {
		parts[i] = strings.ToUpper(p[:1]) + p[1:]
	}
	return strings.Join(parts, "")
}

func readMethodTable(t *testing.T) map[string][]string {
	t.Helper()
	data, err := os.ReadFile("../../docs/manager-methods.json")
	if err != nil {
		t.Fatal(err)
	}
	var table map[string][]string
	if err := json.Unmarshal(data, &table); err != nil {
		t.Fatal(err)
	}
	return table
}

func TestManagerProxiesCoverTheMethodTable(t *testing.T) {
	table := readMethodTable(t)
	var missing []string
	for kind, methods := range table {
		typ, ok := kindProxies[kind]
		if !ok {
			missing = append(missing, kind+" (no proxy type)")
			continue
		}
		for _, m := range methods {
			key := kind + "." + m
			if _, skip := methodsNotExposed[key]; skip {
				continue
			}
			name, ok := methodAliases[key]
			if !ok {
				name = goName(m)
			}
			if _, ok := typ.MethodByName(name); !ok {
				missing = append(missing, key+" (as "+typ.Elem().Name()+"."+name+")")
			}
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Fatalf("methods of the table no proxy has: %s", strings.Join(missing, ", "))
	}
}

func TestManagerMethodListsNameOnlyTheTable(t *testing.T) {
	// A stale entry (a method renamed or removed on the server) fails too.
	table := readMethodTable(t)
	has := func(key string) bool {
		kind, m, _ := strings.Cut(key, ".")
		for _, x := range table[kind] {
			if x == m {
				return true
			}
		}
		return false
	}
	for key, name := range methodAliases {
		if !has(key) {
			t.Errorf("alias %s: no such method in the table", key)
		}
		_, m, _ := strings.Cut(key, ".")
		if name == goName(m) {
			t.Errorf("alias %s: %s is its plain name", key, name)
		}
	}
	for key := range methodsNotExposed {
		if !has(key) {
			t.Errorf("not-exposed %s: no such method in the table", key)
		}
	}
	for kind := range kindProxies {
		if _, ok := table[kind]; !ok {
			t.Errorf("proxy for kind %s, which the table does not have", kind)
		}
	}
}
