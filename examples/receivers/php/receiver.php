<?php
// A webhook receiver that verifies both signatures of a Streem delivery,
// with PHP's standard functions only (the official standard-webhooks
// package is on Packagist, not in Debian, so its check is written out in
// verify_standard). Run with PHP's development server (in production the
// same script runs under php-fpm or Apache):
//
//   SHARED_SECRET=... STANDARD_WEBHOOKS_SECRET=whsec_... php -S 127.0.0.1:9999 receiver.php
//
// STREEM_TOLERANCE_MS (default 500) bounds |now - Streem-Sent-At|. It answers
// 204 when both signatures verify and 401 otherwise, and prints one line per
// request to stderr: "accepted|refused streem=<result> standard=<result>".
declare(strict_types=1);

const STANDARD_TOLERANCE_S = 5 * 60; // what the Standard Webhooks specification says
const MAX_BODY = 1 << 20; // Streem's bodies are far smaller; refuse anything bigger

function say(string $line): void
{
    file_put_contents('php://stderr', $line . "\n");
}

// Streem's scheme: HMAC-SHA256 (hex) over "Name=Value;" for each header
// listed in Streem-Signature-Headers, in order, then the raw body.
function verify_streem(array $h, string $body, string $secret, int $toleranceMs): string
{
    $sentAt = $h['streem-sent-at'] ?? '';
    $list = $h['streem-signature-headers'] ?? '';
    $given = $h['streem-signature'] ?? '';
    if ($sentAt === '' || $list === '' || $given === '') {
        return 'missing-header';
    }
    $names = explode(':', $list);
    // The first signed header must be the time, or a replay could not be told apart.
    if ($names[0] !== 'Streem-Sent-At') {
        return 'bad-header-list';
    }
    $sent = DateTimeImmutable::createFromFormat(DATE_RFC3339_EXTENDED, $sentAt);
    if ($sent === false) {
        return 'bad-timestamp';
    }
    if (abs(microtime(true) * 1000 - (float)$sent->format('Uv')) > $toleranceMs) {
        return 'stale';
    }
    $signed = '';
    foreach ($names as $name) {
        $value = $h[strtolower($name)] ?? null;
        if ($value === null) {
            return 'missing-header';
        }
        $signed .= "$name=$value;";
    }
    $expected = hash_hmac('sha256', $signed . $body, $secret);
    // One signature per active signing key, comma separated (key rotation).
    foreach (explode(',', $given) as $sig) {
        if (hash_equals($expected, trim($sig))) {
            return 'ok';
        }
    }
    return 'bad-signature';
}

// Standard Webhooks: base64 HMAC-SHA256 over "id.timestamp.body" keyed with
// the base64-decoded whsec_ secret; "v1,<sig>" entries, space separated.
function verify_standard(array $h, string $body, string $key): string
{
    $id = $h['webhook-id'] ?? '';
    $ts = $h['webhook-timestamp'] ?? '';
    $given = $h['webhook-signature'] ?? '';
    if ($id === '' || $ts === '' || $given === '') {
        return 'missing-header';
    }
    if (preg_match('/\A\d{1,12}\z/', $ts) !== 1) {
        return 'bad-timestamp';
    }
    if (abs(time() - (int)$ts) > STANDARD_TOLERANCE_S) {
        return 'stale';
    }
    $expected = base64_encode(hash_hmac('sha256', "$id.$ts.$body", $key, true));
    foreach (explode(' ', $given) as $entry) {
        [$version, $sig] = array_pad(explode(',', $entry, 2), 2, '');
        if ($version === 'v1' && hash_equals($expected, $sig)) {
            return 'ok';
        }
    }
    return 'bad-signature';
}

$sharedSecret = getenv('SHARED_SECRET') ?: '';
$standardKey = base64_decode(preg_replace('/\Awhsec_/', '', getenv('STANDARD_WEBHOOKS_SECRET') ?: ''), true);
if ($sharedSecret === '' || $standardKey === false || $standardKey === '') {
    say('set SHARED_SECRET and STANDARD_WEBHOOKS_SECRET (GET /v1/webhooks/{sid}/signing-keys)');
    http_response_code(500);
    exit;
}
$body = file_get_contents('php://input', false, null, 0, MAX_BODY + 1);
if ($body === false || strlen($body) > MAX_BODY) {
    say('refused too-large');
    http_response_code(413);
    exit;
}
$headers = array_change_key_case(getallheaders(), CASE_LOWER);
$streem = verify_streem($headers, $body, $sharedSecret, (int)(getenv('STREEM_TOLERANCE_MS') ?: 500));
$standard = verify_standard($headers, $body, $standardKey);
// Both must verify: a real delivery always carries both, made with one key,
// and each covers something the other does not (Streem's the signed custom
// headers, Standard Webhooks the webhook-id to dedupe on).
$ok = $streem === 'ok' && $standard === 'ok';
say(($ok ? 'accepted' : 'refused') . " streem=$streem standard=$standard");
// Your work goes here when ok: dedupe on webhook-id (deliveries are at least once).
http_response_code($ok ? 204 : 401);
