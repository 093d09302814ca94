"""What the demo's customers ask and how its support bot answers, well and badly, by topic.

Templates take `{order}`, `{name}`, `{days}`, `{item}` and `{amount}`. A good answer is
specific (an order number, a link, a date) and polite; a bad one is vague, deflects, or
answers another question, so the demo's checks and judge have something to tell apart.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Topic:
    name: str
    tags: tuple[str, ...]
    questions: tuple[str, ...]
    good: tuple[str, ...]
    bad: tuple[str, ...]


TOPICS = (
    Topic(
        name="orders",
        tags=(),
        questions=(
            "Where is my order {order}? It was supposed to arrive yesterday.",
            "Can you check the status of order {order}?",
            "I ordered a {item} last week and haven't heard anything. Order {order}.",
        ),
        good=(
            "Order {order} left our warehouse {days} days ago and is with the courier; you can "
            "follow it at https://track.example.com/{order}. It should reach you by Friday.",
            "I've checked order {order}: the {item} is packed and ships today. You'll get an "
            "e-mail with the tracking link within the hour.",
        ),
        bad=(
            "I don't know where your order is.",
            "Orders usually arrive. Please wait.",
            "Please contact support for order questions.",
        ),
    ),
    Topic(
        name="refunds",
        tags=("refund",),
        questions=(
            "I'd like a refund for order {order}, the {item} arrived broken.",
            "How long does a refund take? I returned order {order} {days} days ago.",
            "I was charged {amount} twice for order {order}. Can I get my money back?",
        ),
        good=(
            "I'm sorry the {item} arrived damaged. I've started a refund of {amount} for order "
            "{order}; it reaches your card within 5 business days, and you can keep the item.",
            "Your return for order {order} arrived on our side and the refund of {amount} was "
            "issued today. Banks take 3 to 5 days to show it.",
        ),
        bad=(
            "Refunds are not something I can help with.",
            "We have a great selection of new products this week!",
            "I'm not sure. Maybe try again later.",
        ),
    ),
    Topic(
        name="passwords",
        tags=(),
        questions=(
            "I forgot my password and the reset e-mail never came.",
            "How do I change my password?",
            "My account says it's locked after too many attempts.",
        ),
        good=(
            "I've sent a new reset link to the address on your account, {name}; it's valid for "
            "an hour. You can also reset it at https://shop.example.com/reset.",
            "Your account is unlocked again. Sign in at https://shop.example.com/login and "
            "choose a new password under Account > Security.",
        ),
        bad=(
            "Passwords are important. Keep yours safe.",
            "I cannot help with accounts.",
            "Have you tried turning it off and on again?",
        ),
    ),
    Topic(
        name="shipping",
        tags=(),
        questions=(
            "Do you ship to Canada? And how much does it cost?",
            "Can I change the delivery address for order {order}?",
            "How long does express shipping take?",
        ),
        good=(
            "Yes, we ship to Canada: standard shipping is {amount} and takes about {days} "
            "business days. Rates for every country: https://shop.example.com/shipping.",
            "I've updated the delivery address of order {order}; the courier has the new one "
            "and the date stays the same.",
        ),
        bad=(
            "Shipping depends on many things.",
            "I don't know.",
            "Please read our terms and conditions.",
        ),
    ),
)

GREETINGS = ("Hi", "Hello!", "Hey there", "Good morning", "hi, quick question")
BOT_GREETINGS = (
    "Hello! I'm the Acme Shop assistant. How can I help you today?",
    "Hi {name}! What can I do for you?",
)
FOLLOW_UPS = (
    "Thanks. And one more thing:",
    "OK. Also,",
    "Got it. Another question:",
)
ASK_FOR_HUMAN = (
    "That doesn't help. Can I talk to a person?",
    "This is useless, I want a human.",
)
HANDOVER = (
    "I'm sorry about that, {name}. I've passed your conversation to a colleague, who will "
    "reply by e-mail within a few hours.",
)
THANKS = ("Thanks, that's all!", "Great, thank you.", "Perfect, bye!")
GOODBYES = ("You're welcome, {name}. Have a nice day!", "Glad I could help. Bye!")

NAMES = ("Ana", "Ben", "Chen", "Dana", "Emeka", "Farah", "Giulia", "Hiro", "Ines", "Jonas")
ITEMS = ("kettle", "desk lamp", "backpack", "pair of headphones", "coffee grinder")
CHANNELS = ("web", "web", "mobile", "email")
