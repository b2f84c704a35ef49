#!/usr/bin/env ruby
# frozen_string_literal: true

# A webhook receiver that verifies both signatures of a Streem delivery,
# with Ruby's standard library (WEBrick: Debian's ruby brings it) and
# OpenSSL. The official standardwebhooks gem is not in Debian, so its check
# is written out in verify_standard. Run:
#
#   SHARED_SECRET=... STANDARD_WEBHOOKS_SECRET=whsec_... PORT=9999 ruby receiver.rb
#
# STREEM_TOLERANCE_MS (default 500) bounds |now - Streem-Sent-At|. It answers
# 204 when both signatures verify and 401 otherwise, and prints one line per
# request: "accepted|refused streem=<result> standard=<result>".
require 'base64'
require 'openssl'
require 'time'
require 'webrick'

SHARED_SECRET = ENV.fetch('SHARED_SECRET', '')
STANDARD_SECRET = ENV.fetch('STANDARD_WEBHOOKS_SECRET', '')
abort 'set SHARED_SECRET and STANDARD_WEBHOOKS_SECRET (GET /v1/webhooks/{sid}/signing-keys)' if
  SHARED_SECRET.empty? || STANDARD_SECRET.empty?
# The Standard Webhooks key: the secret's base64 text after "whsec_".
STANDARD_KEY = Base64.strict_decode64(STANDARD_SECRET.delete_prefix('whsec_'))
PORT = Integer(ENV.fetch('PORT', '9999'))
TOLERANCE_MS = Integer(ENV.fetch('STREEM_TOLERANCE_MS', '500'))
STANDARD_TOLERANCE_S = 5 * 60 # what the Standard Webhooks specification says
MAX_BODY = 1 << 20 # Streem's bodies are far smaller; refuse anything bigger unread

# Streem's scheme: HMAC-SHA256 (hex) over "Name=Value;" for each header
# listed in Streem-Signature-Headers, in order, then the raw body.
def verify_streem(req, body)
  sent_at, list, given = req['Streem-Sent-At'], req['Streem-Signature-Headers'], req['Streem-Signature']
  return 'missing-header' if [sent_at, list, given].any? { |v| v.nil? || v.empty? }
  names = list.split(':')
  # The first signed header must be the time, or a replay could not be told apart.
  return 'bad-header-list' unless names.first == 'Streem-Sent-At'
  sent = begin
    Time.iso8601(sent_at)
  rescue ArgumentError
    return 'bad-timestamp'
  end
  return 'stale' if ((Time.now - sent) * 1000).abs > TOLERANCE_MS
  signed = +''
  names.each do |name|
    value = req[name] # case-insensitive
    return 'missing-header' if value.nil?
    signed << "#{name}=#{value};"
  end
  expected = OpenSSL::HMAC.hexdigest('SHA256', SHARED_SECRET, signed.b + body)
  # One signature per active signing key, comma separated (key rotation).
  given.split(',').any? { |s| OpenSSL.secure_compare(s.strip, expected) } ? 'ok' : 'bad-signature'
end

# Standard Webhooks: base64 HMAC-SHA256 over "id.timestamp.body" keyed with
# the base64-decoded whsec_ secret; "v1,<sig>" entries, space separated.
def verify_standard(req, body)
  id, ts, given = req['webhook-id'], req['webhook-timestamp'], req['webhook-signature']
  return 'missing-header' if [id, ts, given].any? { |v| v.nil? || v.empty? }
  return 'bad-timestamp' unless ts.match?(/\A\d{1,12}\z/)
  return 'stale' if (Time.now.to_i - ts.to_i).abs > STANDARD_TOLERANCE_S

  mac = OpenSSL::HMAC.digest('SHA256', STANDARD_KEY, "#{id}.#{ts}.".b + body)
  expected = Base64.strict_encode64(mac)
  ok = given.split(' ').any? do |entry|
    version, sig = entry.split(',', 2)
    version == 'v1' && !sig.nil? && OpenSSL.secure_compare(sig, expected)
  end
  ok ? 'ok' : 'bad-signature'
end

# The body is read whole (the signatures cover its exact bytes), at most MAX_BODY.
def read_body(req)
  return nil if req['Content-Length'].to_i > MAX_BODY # absent when chunked
  body = +''.b
  req.body { |chunk| body << chunk if body.bytesize <= MAX_BODY } # chunked: no length
  body.bytesize > MAX_BODY ? nil : body
end

# Every path, POST, PUT or PATCH (a webhook's method may be any of the three).
class Receiver < WEBrick::HTTPServlet::AbstractServlet
  def do_POST(req, res)
    body = read_body(req)
    if body.nil?
      puts 'refused too-large'
      res.status = 413
      res.keep_alive = false
      return
    end
    streem = verify_streem(req, body)
    standard = verify_standard(req, body)
    # Both must verify: a real delivery always carries both, made with one
    # key, and each covers something the other does not (Streem's the signed
    # custom headers, Standard Webhooks the webhook-id to dedupe on).
    ok = streem == 'ok' && standard == 'ok'
    puts "#{ok ? 'accepted' : 'refused'} streem=#{streem} standard=#{standard}"
    # Your work goes here when ok: dedupe on webhook-id (deliveries are at least once).
    res.status = ok ? 204 : 401
  end
  alias do_PUT do_POST
  alias do_PATCH do_POST
end

$stdout.sync = true
server = WEBrick::HTTPServer.new(BindAddress: '127.0.0.1', Port: PORT, AccessLog: [],
                                 Logger: WEBrick::Log.new($stderr, WEBrick::Log::WARN))
server.mount('/', Receiver)
trap('TERM') { server.shutdown }
puts "listening on 127.0.0.1:#{PORT}"
server.start
