"""Daily todo email steps (spec 3): who is at 08:00, what they have today, write, render, claim, send.

- compose: each user's context, the writer's text (the rule-based template when the model fails), rendering
- claims: the exactly-once claim of each email and the sending that moves it along
- steps: the Prefect tasks and the run's report
- notices, notice_words: the mail to a document's owner (ready, or why not and what to do), in their language

Exactly once: an event row "todo_daily_email:{user}:{local_date}" is claimed before sending and moves
claimed -> sending -> sent. A claim that never reached the mailer is sent again by a later run (with the
same Message-ID); one that died inside the mailer is only re-sent when the mailer can tell it did not go
out, otherwise it is marked "unknown" and reported, never sent twice. See README "Daily emails".
"""
