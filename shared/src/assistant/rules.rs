//! The offline engine: a few rules on the last user message.

use super::{ReplyEngine, Turn};
use crate::domain::MessageRole;

#[derive(Clone, Copy, Debug, Default)]
pub struct RuleBased;

/// What a message is, as far as the rules tell.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Intent {
    Greeting,
    Help,
    Question,
    Thanks,
    Other,
}

const GREETINGS: [&str; 8] = [
    "hi",
    "hello",
    "hey",
    "hiya",
    "good morning",
    "good afternoon",
    "good evening",
    "greetings",
];

impl RuleBased {
    pub fn intent(text: &str) -> Intent {
        let lower = text.trim().to_lowercase();
        let words: Vec<&str> = lower
            .split(|c: char| !c.is_alphanumeric() && c != '\'')
            .filter(|w| !w.is_empty())
            .collect();
        let has = |word: &str| words.contains(&word);
        if lower.contains("thank") || has("thx") || has("ty") {
            Intent::Thanks
        } else if has("help") || lower == "?" {
            Intent::Help
        } else if GREETINGS.iter().any(|g| {
            lower == *g
                || lower.starts_with(&format!("{g} "))
                || lower.starts_with(&format!("{g},"))
                || lower.starts_with(&format!("{g}!"))
        }) {
            Intent::Greeting
        } else if lower.ends_with('?') {
            Intent::Question
        } else {
            Intent::Other
        }
    }

    pub fn answer(&self, conversation: &[Turn]) -> String {
        let last = conversation
            .iter()
            .rev()
            .find(|turn| turn.role == MessageRole::User)
            .map(|turn| turn.text.as_str())
            .unwrap_or_default();
        match Self::intent(last) {
            Intent::Greeting => "Hello! I'm the assistant of this channel. Ask me a question, or write \"help\" to see what I can do.".into(),
            Intent::Help => "I answer every message you write here. I can greet you, take questions and keep you company; with a language model configured I can do much more. Try asking me something.".into(),
            Intent::Question => format!(
                "Good question: \"{}\". I'm running offline with simple rules, so I can't look it up, but I've noted it.",
                excerpt(last)
            ),
            Intent::Thanks => "You're welcome! Anything else?".into(),
            Intent::Other => format!(
                "Noted: \"{}\". Ask me a question, or write \"help\".",
                excerpt(last)
            ),
        }
    }
}

/// The first 80 characters of a message, on one line.
fn excerpt(text: &str) -> String {
    let line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    match line.char_indices().nth(80) {
        Some((cut, _)) => format!("{}…", &line[..cut]),
        None => line,
    }
}

impl ReplyEngine for RuleBased {
    async fn reply(&self, conversation: &[Turn]) -> Result<String, String> {
        Ok(self.answer(conversation))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(text: &str) -> Vec<Turn> {
        vec![Turn {
            role: MessageRole::User,
            text: text.into(),
        }]
    }

    #[test]
    fn recognises_each_intent() {
        for (text, intent) in [
            ("Hello", Intent::Greeting),
            ("hi there!", Intent::Greeting),
            ("Good morning, assistant", Intent::Greeting),
            ("help", Intent::Help),
            ("Can you help me?", Intent::Help),
            ("What time is the launch?", Intent::Question),
            ("Thanks a lot", Intent::Thanks),
            ("thank you!", Intent::Thanks),
            ("The launch is on Friday", Intent::Other),
            ("history of hives", Intent::Other),
        ] {
            assert_eq!(RuleBased::intent(text), intent, "{text}");
        }
    }

    #[test]
    fn answers_the_last_user_message() {
        let mut conversation = user("hello");
        conversation.push(Turn {
            role: MessageRole::Assistant,
            text: "Hello! ...".into(),
        });
        conversation.extend(user("Is it raining?"));
        let answer = RuleBased.answer(&conversation);
        assert!(answer.starts_with("Good question"), "{answer}");
        assert!(answer.contains("Is it raining?"));
        let long = "x".repeat(500);
        assert!(RuleBased.answer(&user(&long)).chars().count() < 200);
    }
}
