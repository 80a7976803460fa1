// Package discover learns the application profile of a team's Django
// project: from Django itself, by running a script through the project's
// manage command (`manage.py shell`, so it works through `docker compose
// exec -T`), or, when Django cannot start, from the database catalog with
// name heuristics. It maps what it learns onto steady's roles and says
// what it mapped, how, and what it could not.
package discover

import (
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// script is the discovery script piped into `manage.py shell`.
//
//go:embed discover.py
var script string

// Script returns the discovery script, for those who want to read or run
// it by hand (`steady init --script`).
func Script() string { return script }

// The markers around the script's JSON: a project may print anything at
// import time, before or after.
const (
	beginMarker = "<<<steady-discovery-begin>>>"
	endMarker   = "<<<steady-discovery-end>>>"
)

// Facts is what the discovery script read from the project.
type Facts struct {
	Version    int         `json:"version"`
	Django     string      `json:"django"`
	Python     string      `json:"python"`
	Settings   string      `json:"settings"`
	Apps       []string    `json:"apps"`
	Models     []Model     `json:"models"`
	Migrations *Migrations `json:"migrations"`
	Cache      *CacheFacts `json:"cache"`
	Celery     *Celery     `json:"celery"`
	Code       *Code       `json:"code"`
	Warnings   []string    `json:"warnings"`
	// Error is set when the script could not read the project at all.
	Error string `json:"error"`
}

// Model is one model's metadata.
type Model struct {
	Label     string `json:"label"`
	App       string `json:"app"`
	Name      string `json:"name"`
	Table     string `json:"table"`
	Project   bool   `json:"project"`
	PK        string `json:"pk"`
	HistoryOf string `json:"history_of"`
	// Username is the column of a user model's USERNAME_FIELD.
	Username       string            `json:"username"`
	Fields         []Field           `json:"fields"`
	Constraints    []ModelConstraint `json:"constraints"`
	UniqueTogether [][]string        `json:"unique_together"`
}

// Field is one concrete field.
type Field struct {
	Name          string      `json:"name"`
	Column        string      `json:"column"`
	Type          string      `json:"type"`
	Null          bool        `json:"null"`
	PK            bool        `json:"pk"`
	Unique        bool        `json:"unique"`
	Index         bool        `json:"index"`
	Choices       [][2]string `json:"choices"`
	Related       string      `json:"related"`
	RelatedTable  string      `json:"related_table"`
	RelatedColumn string      `json:"related_column"`
}

// ModelConstraint is a constraint of Meta.constraints.
type ModelConstraint struct {
	Name        string   `json:"name"`
	Kind        string   `json:"kind"`
	Check       string   `json:"check"`
	Columns     []string `json:"columns"`
	Conditional bool     `json:"conditional"`
}

// Migrations is what the migration loader read from the files.
type Migrations struct {
	Leaves   []string            `json:"leaves"`
	Replaces map[string][]string `json:"replaces"`
	Count    int                 `json:"count"`
	// Constraints maps "app.model/name" (or "app.model/unique_together:
	// col,col") to the migration creating it.
	Constraints map[string]string `json:"constraints"`
}

// CacheFacts is settings.CACHES["default"].
type CacheFacts struct {
	Backend     string `json:"backend"`
	Location    string `json:"location"`
	DB          *int   `json:"db"`
	KeyPrefix   string `json:"key_prefix"`
	Version     int    `json:"version"`
	KeyFunction string `json:"key_function"`
}

// Celery is the project's Celery app.
type Celery struct {
	Found        bool   `json:"found"`
	Why          string `json:"why"`
	Main         string `json:"main"`
	Broker       string `json:"broker"`
	Results      string `json:"results"`
	DefaultQueue string `json:"default_queue"`
	Tasks        []Task `json:"tasks"`
}

// Task is a registered task.
type Task struct {
	Name   string   `json:"name"`
	Params []string `json:"params"`
	Queue  string   `json:"queue"`
	Module string   `json:"module"`
}

// Code is what calling the project's own code showed.
type Code struct {
	Calculators []CalculatorFacts `json:"calculators"`
	Keys        []KeyFunction     `json:"keys"`
}

// CalculatorFacts is a function that looks like the worked-shift
// calculator, and the query it ran with placeholder arguments.
type CalculatorFacts struct {
	Call      string `json:"call"`
	Import    string `json:"import"`
	Clinician string `json:"clinician"` // "id" or "model:app.Model"
	Error     string `json:"error"`
	Query     *Query `json:"query"`
}

// Query is a captured query of the calculator.
type Query struct {
	Table           string `json:"table"`
	Model           string `json:"model"`
	SQL             string `json:"sql"`
	Aggregate       bool   `json:"aggregate"`
	ClinicianColumn string `json:"clinician_column"`
	DateColumn      string `json:"date_column"`
	Status          *struct {
		Column  string   `json:"column"`
		Choices []string `json:"choices"`
		Worked  []string `json:"worked"`
	} `json:"status"`
	Duration *struct {
		Column   string `json:"column"`
		Positive bool   `json:"positive"`
	} `json:"duration"`
}

// KeyFunction is a function building a cache key from a clinician and
// two days, and the template its output gave.
type KeyFunction struct {
	Function  string `json:"function"`
	Template  string `json:"template"`
	Clinician string `json:"clinician"`
}

// ParseOutput finds the script's JSON in the output of the manage
// command, ignoring whatever the project printed around it.
func ParseOutput(out string) (*Facts, error) {
	_, rest, ok := strings.Cut(out, beginMarker)
	if !ok {
		return nil, errors.New("the discovery script printed no result (did `manage.py shell` read it from standard input?)")
	}
	body, _, ok := strings.Cut(rest, endMarker)
	if !ok {
		return nil, errors.New("the discovery script's result was cut short")
	}
	var f Facts
	if err := json.Unmarshal([]byte(strings.TrimSpace(body)), &f); err != nil {
		return nil, fmt.Errorf("the discovery script's result is not JSON: %w", err)
	}
	if f.Version != 1 {
		return nil, fmt.Errorf("the discovery script's result has version %d; this steady reads version 1", f.Version)
	}
	return &f, nil
}

// model returns the model with label, or nil.
func (f *Facts) model(label string) *Model {
	for i := range f.Models {
		if f.Models[i].Label == label {
			return &f.Models[i]
		}
	}
	return nil
}

// byTable returns the model whose table is table, or nil.
func (f *Facts) byTable(table string) *Model {
	for i := range f.Models {
		if f.Models[i].Table == table && f.Models[i].HistoryOf == "" {
			return &f.Models[i]
		}
	}
	return nil
}

// field returns the field with column col, or nil.
func (m *Model) field(col string) *Field {
	for i := range m.Fields {
		if m.Fields[i].Column == col {
			return &m.Fields[i]
		}
	}
	return nil
}
