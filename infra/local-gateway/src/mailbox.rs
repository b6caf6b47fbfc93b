//! The local mailbox: every email moto's SES took, printed as it arrives (to, subject and, for
//! a verification email, the code), so a developer signing up locally can read their code in
//! the gateway's output. Moto keeps sent emails in memory and lists them in its model dump.

use std::collections::HashSet;
use std::time::Duration;

use serde_json::Value;

/// An email as moto recorded it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SentEmail {
    pub id: String,
    pub to: Vec<String>,
    pub subject: String,
}

impl SentEmail {
    /// The verification code, when the subject leads with one (see `shared::email`).
    pub fn code(&self) -> Option<&str> {
        self.subject
            .split_whitespace()
            .next()
            .filter(|word| word.len() == 6 && word.bytes().all(|b| b.is_ascii_digit()))
    }

    /// One line for the gateway's output.
    pub fn line(&self) -> String {
        let mut line = format!("  email to {}: {:?}", self.to.join(", "), self.subject);
        if let Some(code) = self.code() {
            line.push_str(&format!("  (verification code {code})"));
        }
        line
    }
}

/// The emails in a moto model dump (`/moto-api/data.json`), in the order moto took them.
pub fn sent_emails(dump: &Value) -> Vec<SentEmail> {
    let messages = dump["ses"]
        .as_object()
        .into_iter()
        .flat_map(|models| models.values())
        .filter_map(Value::as_array)
        .flatten();
    messages
        .filter_map(|message| {
            let destinations = &message["destinations"];
            let to = ["ToAddresses", "to_addresses"]
                .iter()
                .find_map(|key| destinations[key].as_array())
                .or_else(|| destinations.as_array())?
                .iter()
                .filter_map(|address| address.as_str().map(str::to_string))
                .collect();
            Some(SentEmail {
                id: message["id"].as_str()?.to_string(),
                to,
                subject: message["subject"].as_str().unwrap_or_default().to_string(),
            })
        })
        .collect()
}

/// Prints each new email moto at `endpoint` took, checking every `every`, until dropped.
/// Emails sent before the gateway started are printed once too (a restart shows the latest
/// code again).
pub async fn watch(endpoint: String, every: Duration) {
    let client = reqwest::Client::new();
    let url = format!("{}/moto-api/data.json", endpoint.trim_end_matches('/'));
    let mut seen = HashSet::new();
    loop {
        match client.get(&url).send().await {
            Ok(response) => match response.json::<Value>().await {
                Ok(dump) => {
                    for email in sent_emails(&dump) {
                        if seen.insert(email.id.clone()) {
                            println!("{}", email.line());
                        }
                    }
                }
                Err(err) => tracing::debug!(error = %err, "moto's model dump did not parse"),
            },
            Err(err) => tracing::debug!(error = %err, "moto did not answer"),
        }
        tokio::time::sleep(every).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_emails_of_a_moto_dump_and_their_codes() {
        let dump = serde_json::json!({"ses": {"Message": [
            {"id": "a", "destinations": {"ToAddresses": ["ada@example.com"]},
             "subject": "042917 is your Chat verification code"},
            {"id": "b", "destinations": {"ToAddresses": ["bob@example.com"]},
             "subject": "New partner request from Ada"},
        ]}});
        let emails = sent_emails(&dump);
        assert_eq!(emails.len(), 2);
        assert_eq!(emails[0].code(), Some("042917"));
        assert_eq!(
            emails[0].line(),
            "  email to ada@example.com: \"042917 is your Chat verification code\"  (verification code 042917)"
        );
        assert_eq!(emails[1].code(), None);
        assert_eq!(emails[1].to, ["bob@example.com"]);
    }
}
