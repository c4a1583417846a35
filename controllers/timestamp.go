package controllers

import (
	"encoding/json"
	"fmt"
	"reflect"
	"time"
)

// Timestamp is an RFC 3339 time in a request or response body. Decoding a
// plain time.Time fails with an error that names no field and would end as a
// 500; Timestamp fails as a type error, which the Binder reports as a 400
// against the field. Encoding is always in UTC, as the contract wants.
type Timestamp time.Time

func (ts *Timestamp) UnmarshalJSON(b []byte) error {
	var t time.Time
	if err := t.UnmarshalJSON(b); err != nil {
		return &json.UnmarshalTypeError{Value: "value", Type: reflect.TypeFor[Timestamp]()}
	}
	*ts = Timestamp(t)
	return nil
}

func (ts Timestamp) MarshalJSON() ([]byte, error) {
	b, err := time.Time(ts).UTC().MarshalJSON()
	if err != nil {
		return nil, fmt.Errorf("timestamp: %w", err)
	}
	return b, nil
}
