"""The learning topic carries a batch's items in few messages, each within the size limit, losing none."""

from __future__ import annotations

import json

from streams.app import learning_chunks, learning_items


def test_chunks_hold_every_item_in_order_within_the_size_limit():
    items = [{"feedback_id": f"f-{i}", "text": "é" * (i % 50) + "x" * (i * 37 % 900), "embedding": "A" * 2048}
             for i in range(700)]
    chunks = learning_chunks(items, max_bytes=64 * 1024)
    assert len(chunks) > 1
    assert all(len(c) <= 64 * 1024 + 64 for c in chunks)
    assert [item for c in chunks for item in learning_items(c)] == items
    assert all(json.loads(c).keys() == {"items"} for c in chunks)


def test_an_item_larger_than_the_limit_gets_a_message_of_its_own():
    big = {"feedback_id": "big", "text": "x" * 5000}
    small = {"feedback_id": "small", "text": "ok"}
    chunks = learning_chunks([small, big, small], max_bytes=1000)
    assert [[i["feedback_id"] for i in learning_items(c)] for c in chunks] == [["small"], ["big"], ["small"]]
    assert learning_chunks([]) == []
