// The e-mail alerter: one message per recipient through an SMTP relay, libcurl.

#include "alerters/channel.hpp"
#include "alerters/curl_global.hpp"
#include "alerters/render.hpp"
#include "storage/utf8.hpp"

#include <curl/curl.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <set>
#include <string>
#include <utility>

namespace gotel {

namespace {

/// RFC 5322 date in UTC: "Mon, 02 Jan 2006 15:04:05 +0000".
std::string rfc5322_date(unix_ms t) {
  static constexpr const char* days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr const char* months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                           "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  std::time_t secs = static_cast<std::time_t>(t / 1000);
  std::tm tm{};
  ::gmtime_r(&secs, &tm);
  char buf[48];
  std::snprintf(buf, sizeof buf, "%s, %02d %s %04d %02d:%02d:%02d +0000", days[tm.tm_wday],
                tm.tm_mday, months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
                tm.tm_sec);
  return buf;
}

/// A header value never carries a line break (no header injection).
std::string header_value(std::string_view text) {
  std::string out;
  for (char c : text)
    out.push_back(c == '\r' || c == '\n' ? ' ' : c);
  return out;
}

/// A recipient libcurl can put in RCPT TO: no whitespace, control characters
/// or angle brackets, and one '@' that is neither first nor last.
bool valid_recipient(const std::string& to) {
  for (unsigned char c : to)
    if (c <= 0x20 || c == 0x7f || c == '<' || c == '>' || c == ',')
      return false;
  auto at = to.find('@');
  return at != std::string::npos && at > 0 && at + 1 < to.size()
         && to.find('@', at + 1) == std::string::npos;
}

std::string subject_for(const alert_intent& intent) {
  if (is_mail_digest(intent))
    return "GoTel alert digest";
  if (is_storm_notice(intent))
    return intent.kind == alert_kind::recovered ? "GoTel alert storm recovered"
                                                : "GoTel alert storm";
  // GoTel's subject for a missed checkin; a repeat is the same news again.
  return intent.kind == alert_kind::recovered ? "Job recovered" : "Job Failed to checkin";
}

std::string domain_of(const std::string& address) {
  auto at = address.rfind('@');
  auto domain = at == std::string::npos ? std::string{} : address.substr(at + 1);
  domain.erase(std::remove_if(domain.begin(), domain.end(),
                              [](char c) { return c == '>' || c == ' ' || c == '\r' || c == '\n'; }),
               domain.end());
  return domain.empty() ? "gotel.invalid" : domain;
}

/// Text with every line ending as CRLF, as SMTP requires (libcurl does the
/// dot-stuffing, not the line ends).
std::string crlf(std::string_view text) {
  std::string out;
  out.reserve(text.size() + text.size() / 32);
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '\r') {
      out += "\r\n";
      if (i + 1 < text.size() && text[i + 1] == '\n')
        ++i;
    } else if (c == '\n') {
      out += "\r\n";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

struct upload {
  const std::string* data;
  std::size_t offset = 0;
};

size_t read_upload(char* buf, size_t size, size_t nmemb, void* userp) {
  auto* up = static_cast<upload*>(userp);
  std::size_t room = size * nmemb;
  std::size_t left = up->data->size() - up->offset;
  std::size_t n = std::min(room, left);
  std::memcpy(buf, up->data->data() + up->offset, n);
  up->offset += n;
  return n;
}

size_t discard(char*, size_t size, size_t nmemb, void*) {
  return size * nmemb;
}

struct one_result {
  bool ok = false;
  bool retryable = true;
  std::string error;
};

class smtp_channel final : public alert_channel {
 public:
  explicit smtp_channel(smtp_options opts) : opts_(std::move(opts)) {
    detail::curl_global_once();
    url_ = (opts_.tls == "tls" ? "smtps://" : "smtp://") + opts_.host + ":"
           + std::to_string(opts_.port);
  }

  std::string_view name() const override { return "email"; }
  bool mails_recipients() const override { return true; }

  delivery_result deliver(const alert_intent& intent) override {
    auto recipients = split_recipients(intent.notify);
    // Sent on an earlier attempt, or deferred to a digest (">address").
    std::set<std::string> done;
    for (auto& d : split_recipients(intent.progress))
      done.insert(!d.empty() && d.front() == deferred_mark ? d.substr(1) : d);
    std::string progress = intent.progress;
    std::size_t failed = 0;
    bool any_retryable = false;
    std::string errors;
    for (auto& to : recipients) {
      if (done.count(to) > 0)
        continue;  // sent on an earlier attempt, or in a digest
      auto r = send_one(intent, to);
      if (r.ok) {
        done.insert(to);
        progress += (progress.empty() ? "" : ",") + to;
        continue;
      }
      ++failed;
      any_retryable = any_retryable || r.retryable;
      errors += (errors.empty() ? "" : "; ") + to + ": " + r.error;
    }
    if (recipients.empty())
      spdlog::debug("email: alert {} has no recipients in notify", intent.dedup_key);
    if (failed == 0)
      return {true, false, {}, progress};
    return {false, any_retryable,
            "email: " + std::to_string(failed) + " of " + std::to_string(recipients.size())
              + " recipient(s) failed: " + errors,
            progress};
  }

 private:
  one_result send_one(const alert_intent& intent, const std::string& to) {
    if (!valid_recipient(to))
      return {false, false, "invalid address"};
    CURL* curl = curl_easy_init();
    if (curl == nullptr)
      return {false, true, "curl_easy_init failed"};
    auto message = smtp_message(intent, opts_, to);
    upload up{&message};
    curl_slist* rcpt = curl_slist_append(nullptr, ("<" + to + ">").c_str());
    auto from = "<" + opts_.from + ">";
    curl_easy_setopt(curl, CURLOPT_URL, url_.c_str());
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
    curl_easy_setopt(curl, CURLOPT_MAIL_FROM, from.c_str());
    curl_easy_setopt(curl, CURLOPT_MAIL_RCPT, rcpt);
    curl_easy_setopt(curl, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(curl, CURLOPT_READFUNCTION, read_upload);
    curl_easy_setopt(curl, CURLOPT_READDATA, &up);
    curl_easy_setopt(curl, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(message.size()));
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(opts_.timeout.count()));
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    if (opts_.tls == "starttls")
      curl_easy_setopt(curl, CURLOPT_USE_SSL, static_cast<long>(CURLUSESSL_ALL));
    // AUTH only when a user is configured: relays that offer no AUTH must work.
    if (!opts_.user.empty()) {
      curl_easy_setopt(curl, CURLOPT_USERNAME, opts_.user.c_str());
      curl_easy_setopt(curl, CURLOPT_PASSWORD, opts_.pass.c_str());
    }
    auto rc = curl_easy_perform(curl);
    long code = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &code);
    curl_slist_free_all(rcpt);
    curl_easy_cleanup(curl);
    if (rc == CURLE_OK)
      return {true, false, {}};
    // The relay refused for good (5xx on RCPT or DATA): retrying cannot help.
    // A refused login stays retryable: fixing the password and restarting
    // must deliver what is pending. Error texts never contain the password.
    bool permanent = code >= 500 && code < 600 && rc != CURLE_LOGIN_DENIED;
    std::string error = curl_easy_strerror(rc);
    if (code != 0)
      error += " (SMTP " + std::to_string(code) + ")";
    return {false, !permanent, error};
  }

  smtp_options opts_;
  std::string url_;
};

}  // namespace

std::vector<std::string> split_recipients(std::string_view notify) {
  std::vector<std::string> out;
  std::size_t pos = 0;
  while (pos <= notify.size()) {
    auto comma = notify.find(',', pos);
    if (comma == std::string_view::npos)
      comma = notify.size();
    auto part = notify.substr(pos, comma - pos);
    auto b = part.find_first_not_of(" \t");
    if (b != std::string_view::npos) {
      auto e = part.find_last_not_of(" \t");
      std::string to{part.substr(b, e - b + 1)};
      if (std::find(out.begin(), out.end(), to) == out.end())
        out.push_back(std::move(to));
    }
    pos = comma + 1;
  }
  return out;
}

std::string smtp_message(const alert_intent& intent, const smtp_options& opts,
                         const std::string& to) {
  std::string id_left = intent.dedup_key;
  std::replace(id_left.begin(), id_left.end(), ':', '.');
  auto reply_to = opts.reply_to.empty() ? opts.from : opts.reply_to;
  std::string m;
  m += "Date: " + rfc5322_date(intent.created_ms) + "\r\n";
  m += "From: " + header_value(opts.from) + "\r\n";
  m += "Reply-To: " + header_value(reply_to) + "\r\n";
  m += "To: " + header_value(to) + "\r\n";
  m += "Subject: " + subject_for(intent) + "\r\n";
  // Equal across retries of the same intent and recipient, so a resend after a
  // crash is recognisable as the same message.
  auto recipients = split_recipients(intent.notify);
  auto index = std::find(recipients.begin(), recipients.end(), to) - recipients.begin() + 1;
  m += "Message-ID: <" + header_value(id_left) + "." + std::to_string(intent.id) + "."
       + std::to_string(index) + "@" + domain_of(opts.from) + ">\r\n";
  m += "MIME-Version: 1.0\r\n";
  m += "Content-Type: text/plain; charset=utf-8\r\n";
  m += "Content-Transfer-Encoding: 8bit\r\n";
  m += "X-Gotel-Dedup-Key: " + header_value(intent.dedup_key) + "\r\n";
  m += "\r\n";
  // GoTel's body: the alert, then when and to whom.
  m += crlf(utf8::sanitize(intent.message + "\n\nAlert time is [" + rfc1123(intent.created_ms)
                            + "]\nNotification list [" + intent.notify + "]\n"));
  return m;
}

std::unique_ptr<alert_channel> make_smtp_channel(smtp_options opts) {
  return std::make_unique<smtp_channel>(std::move(opts));
}

}  // namespace gotel
