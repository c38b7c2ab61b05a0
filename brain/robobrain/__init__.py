"""RoboBrain 2.0 model layer: loading, prompts, thinking mode, chat/tool formatting, answer parsers, runtime."""
