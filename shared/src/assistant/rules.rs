//! The offline engine: a few rules on the last user message.

use std::time::Duration;

use futures::StreamExt;

use super::{Pieces, ReplyEngine, Turn};
use crate::domain::MessageRole;

/// The rules answer at once; their answer is streamed word by word, one word per
/// `word_delay`, so the offline path streams like a language model would.
#[derive(Clone, Copy, Debug)]
pub struct RuleBased {
    pub word_delay: Duration,
}

impl Default for RuleBased {
    fn default() -> Self {
        Self {
            word_delay: Self::WORD_DELAY,
        }
    }
}

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
    /// `ASSISTANT_RULES_WORD_MS` (25): how long each word of the rules' answer takes.
    pub const WORD_DELAY: Duration = Duration::from_millis(25);

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

    pub fn answer(conversation: &[Turn]) -> String {
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

/// The answer cut after each word, each word keeping the spaces before it.
fn words(answer: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    for c in answer.chars() {
        if c.is_whitespace()
            && word
                .chars()
                .last()
                .is_some_and(|last| !last.is_whitespace())
        {
            words.push(std::mem::take(&mut word));
        }
        word.push(c);
    }
    words.extend(Some(word).filter(|w| !w.is_empty()));
    words
}

impl ReplyEngine for RuleBased {
    fn stream(&self, conversation: &[Turn]) -> Pieces {
        let delay = self.word_delay;
        futures::stream::iter(words(&Self::answer(conversation)))
            .then(move |word| async move {
                tokio::time::sleep(delay).await;
                Ok(word)
            })
            .boxed()
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
        let answer = RuleBased::answer(&conversation);
        assert!(answer.starts_with("Good question"), "{answer}");
        assert!(answer.contains("Is it raining?"));
        let long = "x".repeat(500);
        assert!(RuleBased::answer(&user(&long)).chars().count() < 200);
    }

    #[test]
    fn words_keep_the_text_whole() {
        let text = "Hello!  I'm the\nassistant. ";
        let pieces = words(text);
        assert_eq!(pieces, ["Hello!", "  I'm", " the", "\nassistant.", " "]);
        assert_eq!(pieces.concat(), text);
        assert!(words("").is_empty());
    }

    #[tokio::test]
    async fn the_answer_streams_word_by_word() {
        let engine = RuleBased {
            word_delay: Duration::ZERO,
        };
        let pieces: Vec<String> = engine
            .stream(&user("thanks"))
            .map(Result::unwrap)
            .collect()
            .await;
        assert_eq!(pieces, ["You're", " welcome!", " Anything", " else?"]);
    }
}
