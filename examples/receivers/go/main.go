// A webhook receiver that verifies both signatures of a Streem delivery,
// with the standard library only (Standard Webhooks has an official Go
// package, but neither Debian nor an offline build can fetch it, and its
// check is a few lines; see verifyStandard). Run:
//
//	SHARED_SECRET=... STANDARD_WEBHOOKS_SECRET=whsec_... PORT=9999 go run .
//
// STREEM_TOLERANCE_MS (default 500) bounds |now - Streem-Sent-At|. It answers
// 204 when both signatures verify and 401 otherwise, and prints one line per
// request: "accepted|refused streem=<result> standard=<result>".
package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

const maxBody = 1 << 20                   // Streem's bodies are far smaller; refuse anything bigger
const standardTolerance = 5 * time.Minute // what the Standard Webhooks specification says

var (
	sharedSecret []byte
	standardKey  []byte
	tolerance    = 500 * time.Millisecond
)

// Streem's scheme: HMAC-SHA256 (hex) over "Name=Value;" for each header
// listed in Streem-Signature-Headers, in order, then the raw body.
func verifyStreem(h http.Header, body []byte) string {
	sentAt, list, given := h.Get("Streem-Sent-At"), h.Get("Streem-Signature-Headers"), h.Get("Streem-Signature")
	if sentAt == "" || list == "" || given == "" {
		return "missing-header"
	}
	names := strings.Split(list, ":")
	// The first signed header must be the time, or a replay could not be told apart.
	if names[0] != "Streem-Sent-At" {
		return "bad-header-list"
	}
	sent, err := time.Parse(time.RFC3339Nano, sentAt)
	if err != nil {
		return "bad-timestamp"
	}
	if d := time.Since(sent); d > tolerance || d < -tolerance {
		return "stale"
	}
	mac := hmac.New(sha256.New, sharedSecret)
	for _, name := range names {
		values := h.Values(name)
		if len(values) == 0 {
			return "missing-header"
		}
		fmt.Fprintf(mac, "%s=%s;", name, values[0])
	}
	mac.Write(body)
	expected := []byte(hex.EncodeToString(mac.Sum(nil)))
	// One signature per active signing key, comma separated (key rotation).
	for _, sig := range strings.Split(given, ",") {
		if hmac.Equal([]byte(strings.TrimSpace(sig)), expected) {
			return "ok"
		}
	}
	return "bad-signature"
}

// Standard Webhooks: base64 HMAC-SHA256 over "id.timestamp.body" keyed with
// the base64-decoded whsec_ secret; "v1,<sig>" entries, space separated.
func verifyStandard(h http.Header, body []byte) string {
	id, ts, given := h.Get("Webhook-Id"), h.Get("Webhook-Timestamp"), h.Get("Webhook-Signature")
	if id == "" || ts == "" || given == "" {
		return "missing-header"
	}
	secs, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return "bad-timestamp"
	}
	if d := time.Since(time.Unix(secs, 0)); d > standardTolerance || d < -standardTolerance {
		return "stale"
	}
	mac := hmac.New(sha256.New, standardKey)
	mac.Write([]byte(id + "." + ts + "."))
	mac.Write(body)
	expected := []byte(base64.StdEncoding.EncodeToString(mac.Sum(nil)))
	for _, entry := range strings.Split(given, " ") {
		version, sig, _ := strings.Cut(entry, ",")
		if version == "v1" && hmac.Equal([]byte(sig), expected) {
			return "ok"
		}
	}
	return "bad-signature"
}

func receive(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil { // too large, or the sender went away
		fmt.Println("refused too-large")
		w.WriteHeader(http.StatusRequestEntityTooLarge)
		return
	}
	streem, standard := verifyStreem(r.Header, body), verifyStandard(r.Header, body)
	// Both must verify: a real delivery always carries both, made with one
	// key, and each covers something the other does not (Streem's the signed
	// custom headers, Standard Webhooks the webhook-id to dedupe on).
	if streem != "ok" || standard != "ok" {
		fmt.Printf("refused streem=%s standard=%s\n", streem, standard)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	fmt.Printf("accepted streem=%s standard=%s\n", streem, standard)
	// Your work goes here: dedupe on webhook-id (deliveries are at least once).
	w.WriteHeader(http.StatusNoContent)
}

func main() {
	var err error
	sharedSecret = []byte(os.Getenv("SHARED_SECRET"))
	standardKey, err = base64.StdEncoding.DecodeString(strings.TrimPrefix(os.Getenv("STANDARD_WEBHOOKS_SECRET"), "whsec_"))
	if len(sharedSecret) == 0 || len(standardKey) == 0 || err != nil {
		log.Fatal("set SHARED_SECRET and STANDARD_WEBHOOKS_SECRET (GET /v1/webhooks/{sid}/signing-keys)")
	}
	if ms, err := strconv.Atoi(os.Getenv("STREEM_TOLERANCE_MS")); err == nil {
		tolerance = time.Duration(ms) * time.Millisecond
	}
	port := os.Getenv("PORT")
	if port == "" {
		port = "9999"
	}
	ln, err := net.Listen("tcp", "127.0.0.1:"+port)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("listening on " + ln.Addr().String())
	srv := &http.Server{Handler: http.HandlerFunc(receive), ReadHeaderTimeout: 10 * time.Second}
	log.Fatal(srv.Serve(ln))
}
