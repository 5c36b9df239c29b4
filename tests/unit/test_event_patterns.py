"""The event-pattern matcher against the examples in AWS's EventBridge user guide (content filtering,
comparison operators, arrays, null and empty values), then the edges those rules imply."""

from __future__ import annotations

from typing import Any

import pytest

from cliniko_connector.patterns import InvalidEventPattern, matcher, matches, validate

EC2 = {
    "version": "0",
    "id": "7bf73129-1428-4cd3-a780-95db273d1602",
    "detail-type": "EC2 Instance State-change Notification",
    "source": "aws.ec2",
    "account": "123456789012",
    "time": "2017-10-02T18:43:48Z",
    "region": "us-east-1",
    "resources": [
        "arn:aws:autoscaling:us-east-1:123456789012:autoScalingGroup:eb56d16b:autoScalingGroupName/ASGTerminate",
        "arn:aws:ec2:us-east-1:123456789012:instance/i-b188560f",
    ],
    "detail": {"state": "running", "c-count": 5, "d-count": 9, "x-limit": 301.8, "sourceIPAddress": "10.0.0.24"},
}


def detail(**fields: Any) -> dict[str, Any]:
    return {**EC2, "detail": fields}


# (pattern, event, matches): each pattern is one the user guide shows; events on both sides of it.
DOCUMENTED: list[tuple[str, dict[str, Any], dict[str, Any], bool]] = [
    ("prefix on time", {"time": [{"prefix": "2017-10-02"}]}, EC2, True),
    ("prefix on time, other day", {"time": [{"prefix": "2017-10-03"}]}, EC2, False),
    ("anything-but a string", {"detail": {"state": [{"anything-but": "initializing"}]}}, EC2, True),
    (
        "anything-but the value",
        {"detail": {"state": [{"anything-but": "initializing"}]}},
        detail(state="initializing"),
        False,
    ),
    ("anything-but a number", {"detail": {"x-limit": [{"anything-but": 123}]}}, EC2, True),
    ("anything-but that number", {"detail": {"x-limit": [{"anything-but": 123}]}}, detail(**{"x-limit": 123}), False),
    ("anything-but strings", {"detail": {"state": [{"anything-but": ["stopped", "overloaded"]}]}}, EC2, True),
    (
        "anything-but strings, one of them",
        {"detail": {"state": [{"anything-but": ["stopped", "overloaded"]}]}},
        detail(state="overloaded"),
        False,
    ),
    ("anything-but numbers", {"detail": {"x-limit": [{"anything-but": [100, 200, 300]}]}}, EC2, True),
    (
        "anything-but numbers, one of them",
        {"detail": {"x-limit": [{"anything-but": [100, 200, 300]}]}},
        detail(**{"x-limit": 200}),
        False,
    ),
    ("anything-but prefix", {"detail": {"state": [{"anything-but": {"prefix": "init"}}]}}, EC2, True),
    (
        "anything-but prefix, prefixed",
        {"detail": {"state": [{"anything-but": {"prefix": "init"}}]}},
        detail(state="initializing"),
        False,
    ),
    (
        "numeric ranges and equality",
        {
            "detail": {
                "c-count": [{"numeric": [">", 0, "<=", 5]}],
                "d-count": [{"numeric": ["<", 10]}],
                "x-limit": [{"numeric": ["=", 3.018e2]}],
            }
        },
        EC2,
        True,
    ),
    (
        "numeric, out of range",
        {"detail": {"c-count": [{"numeric": [">", 0, "<=", 5]}], "d-count": [{"numeric": ["<", 10]}]}},
        detail(**{"c-count": 0, "d-count": 9}),
        False,
    ),
    ("cidr", {"detail": {"sourceIPAddress": [{"cidr": "10.0.0.0/24"}]}}, EC2, True),
    (
        "cidr, outside",
        {"detail": {"sourceIPAddress": [{"cidr": "10.0.0.0/24"}]}},
        detail(sourceIPAddress="10.0.1.1"),
        False,
    ),
    (
        "exists false, absent",
        {"detail": {"c-count": [{"exists": False}]}},
        {"detail-type": ["EC2 Instance State-change Notification"], "detail": {"state": ["initializing", "running"]}},
        True,
    ),
    (
        "exists false, not a leaf",
        {"detail": {"c-count": [{"exists": False}]}},
        {"detail": {"state": ["initializing", "running"], "c-count": {"c1": 100}}},
        True,
    ),
    ("exists false, present", {"detail": {"c-count": [{"exists": False}]}}, EC2, False),
    (
        "complex: prefix, anything-but and numeric",
        {
            "time": [{"prefix": "2017-10-02"}],
            "detail": {
                "state": [{"anything-but": "initializing"}],
                "c-count": [{"numeric": [">", 0, "<=", 5]}],
                "d-count": [{"numeric": ["<", 10]}],
                "x-limit": [{"anything-but": [100, 200, 300]}],
            },
        },
        EC2,
        True,
    ),
    ("empty string", {"detail": {"eventVersion": [""]}}, detail(eventVersion="", responseElements=None), True),
    ("null", {"detail": {"responseElements": [None]}}, detail(eventVersion="", responseElements=None), True),
    ("empty string is not null", {"detail": {"responseElements": [""]}}, detail(responseElements=None), False),
    ("null is not an empty string", {"detail": {"eventVersion": [None]}}, detail(eventVersion=""), False),
    (
        "arrays intersect",
        {
            "resources": [
                "arn:aws:ec2:us-east-1:123456789012:instance/i-b188560f",
                "arn:aws:ec2:us-east-1:111122223333:instance/i-b188560f",
                "arn:aws:ec2:us-east-1:444455556666:instance/i-b188560f",
            ]
        },
        EC2,
        True,
    ),
    (
        "arrays, no common element",
        {"resources": ["arn:aws:ec2:us-east-1:444455556666:instance/i-b188560f"]},
        EC2,
        False,
    ),
    # The comparison operators' table.
    ("and", {"Location": ["New York"], "Day": ["Monday"]}, {"Location": "New York", "Day": "Monday"}, True),
    (
        "and, one differs",
        {"Location": ["New York"], "Day": ["Monday"]},
        {"Location": "New York", "Day": "Sunday"},
        False,
    ),
    ("anything-but begins with", {"Region": [{"anything-but": {"prefix": "us-"}}]}, {"Region": "eu-west-1"}, True),
    ("anything-but begins with, US", {"Region": [{"anything-but": {"prefix": "us-"}}]}, {"Region": "us-east-1"}, False),
    ("anything-but ends with", {"FileName": [{"anything-but": {"suffix": ".png"}}]}, {"FileName": "a.jpg"}, True),
    ("anything-but ends with, png", {"FileName": [{"anything-but": {"suffix": ".png"}}]}, {"FileName": "a.png"}, False),
    (
        "anything-but ignore case",
        {"state": [{"anything-but": {"equals-ignore-case": "initializing"}}]},
        {"state": "running"},
        True,
    ),
    (
        "anything-but ignore case, other casing",
        {"state": [{"anything-but": {"equals-ignore-case": "initializing"}}]},
        {"state": "INITIALIZING"},
        False,
    ),
    (
        "anything-but wildcard",
        {"FilePath": [{"anything-but": {"wildcard": "*/lib/*"}}]},
        {"FilePath": "/usr/bin/x"},
        True,
    ),
    (
        "anything-but wildcard, lib",
        {"FilePath": [{"anything-but": {"wildcard": "*/lib/*"}}]},
        {"FilePath": "/usr/lib/x"},
        False,
    ),
    ("begins with", {"Region": [{"prefix": "us-"}]}, {"Region": "us-east-1"}, True),
    (
        "begins with ignore case",
        {"service": [{"prefix": {"equals-ignore-case": "eventb"}}]},
        {"service": "EventBridge"},
        True,
    ),
    ("empty", {"LastName": [""]}, {"LastName": ""}, True),
    ("equals", {"Name": ["Alice"]}, {"Name": "Alice"}, True),
    ("equals is case-sensitive", {"Name": ["Alice"]}, {"Name": "alice"}, False),
    ("equals ignore case", {"Name": [{"equals-ignore-case": "alice"}]}, {"Name": "ALICE"}, True),
    ("ends with", {"FileName": [{"suffix": ".png"}]}, {"FileName": "photo.png"}, True),
    (
        "ends with ignore case",
        {"service": [{"suffix": {"equals-ignore-case": "tBridge"}}]},
        {"service": "EventBRIDGE"},
        True,
    ),
    ("exists", {"ProductName": [{"exists": True}]}, {"ProductName": "Widget"}, True),
    ("exists, absent", {"ProductName": [{"exists": True}]}, {"Product": "Widget"}, False),
    ("does not exist", {"ProductName": [{"exists": False}]}, {"Product": "Widget"}, True),
    ("not", {"Weather": [{"anything-but": ["Raining"]}]}, {"Weather": "Sunny"}, True),
    ("null, again", {"UserID": [None]}, {"UserID": None}, True),
    ("numeric range", {"Price": [{"numeric": [">", 10, "<=", 20]}]}, {"Price": 20}, True),
    ("numeric range, on the open end", {"Price": [{"numeric": [">", 10, "<=", 20]}]}, {"Price": 10}, False),
    ("or", {"PaymentType": ["Credit", "Debit"]}, {"PaymentType": "Debit"}, True),
    (
        "or across fields",
        {"$or": [{"Location": ["New York"]}, {"Day": ["Monday"]}]},
        {"Location": "Boston", "Day": "Monday"},
        True,
    ),
    (
        "or across fields, neither",
        {"$or": [{"Location": ["New York"]}, {"Day": ["Monday"]}]},
        {"Location": "Boston", "Day": "Sunday"},
        False,
    ),
    ("wildcard", {"FileName": [{"wildcard": "dir/*.png"}]}, {"FileName": "dir/photo.png"}, True),
    ("wildcard, other extension", {"FileName": [{"wildcard": "dir/*.png"}]}, {"FileName": "dir/photo.jpg"}, False),
    (
        "wildcard in an ARN",
        {"EventBusArn": [{"wildcard": "arn:aws:events:us-east-1:*:event-bus/*"}]},
        {"EventBusArn": "arn:aws:events:us-east-1:123456789012:event-bus/default"},
        True,
    ),
    (
        "$or with numeric branches",
        {
            "detail": {
                "$or": [
                    {"c-count": [{"numeric": [">", 0, "<=", 5]}]},
                    {"d-count": [{"numeric": ["<", 10]}]},
                    {"x-limit": [{"numeric": ["=", 3.018e2]}]},
                ]
            }
        },
        detail(**{"c-count": 9, "d-count": 20, "x-limit": 301.8}),
        True,
    ),
    (
        "$or beside other fields",
        {
            "source": ["aws.ec2"],
            "$or": [{"metricName": ["CPUUtilization", "ReadLatency"]}, {"namespace": ["AWS/EC2", "AWS/ES"]}],
        },
        {"source": "aws.ec2", "metricName": "DiskIO", "namespace": "AWS/ES"},
        True,
    ),
    (
        "$or beside other fields, field fails",
        {
            "source": ["aws.ec2"],
            "$or": [{"metricName": ["CPUUtilization", "ReadLatency"]}, {"namespace": ["AWS/EC2", "AWS/ES"]}],
        },
        {"source": "aws.rds", "metricName": "CPUUtilization"},
        False,
    ),
]


@pytest.mark.parametrize(("pattern", "event", "expected"), [c[1:] for c in DOCUMENTED], ids=[c[0] for c in DOCUMENTED])
def test_the_user_guides_examples(pattern: dict[str, Any], event: dict[str, Any], expected: bool) -> None:
    validate(pattern)
    assert matches(pattern, event) is expected


EDGES: list[tuple[str, dict[str, Any], dict[str, Any], bool]] = [
    ("values match by type", {"n": ["5"]}, {"n": 5}, False),
    ("numbers match by value", {"n": [300]}, {"n": 300.0}, True),
    ("true is not 1", {"b": [True]}, {"b": 1}, False),
    ("a missing field matches nothing but exists false", {"a": [{"anything-but": "x"}]}, {}, False),
    ("prefix matches strings only", {"n": [{"prefix": "1"}]}, {"n": 12}, False),
    ("numeric matches numbers only", {"n": [{"numeric": [">", 1]}]}, {"n": "12"}, False),
    ("numeric on an array element", {"n": [{"numeric": [">", 10]}]}, {"n": [1, 2, 30]}, True),
    ("nested objects must nest in the event", {"a": {"b": ["x"]}}, {"a.b": "x"}, False),
    ("a pattern object over a leaf matches nothing", {"a": {"b": ["x"]}}, {"a": "x"}, False),
    ("arrays of objects: any element", {"items": {"id": ["2"]}}, {"items": [{"id": "1"}, {"id": "2"}]}, True),
    (
        "arrays of objects: fields are matched independently (flattened)",
        {"items": {"id": ["1"], "status": ["bad"]}},
        {"items": [{"id": "1", "status": "ok"}, {"id": "2", "status": "bad"}]},
        True,
    ),
    (
        "arrays of objects: every field must be somewhere",
        {"items": {"id": ["1"], "status": ["gone"]}},
        {"items": [{"id": "1", "status": "ok"}, {"id": "2", "status": "bad"}]},
        False,
    ),
    ("nested arrays flatten", {"a": ["x"]}, {"a": [["y"], ["x"]]}, True),
    ("an empty array has no leaf", {"a": [{"exists": True}]}, {"a": []}, False),
    ("null exists", {"a": [{"exists": True}]}, {"a": None}, True),
    ("anything-but an array: any element that differs", {"a": [{"anything-but": "x"}]}, {"a": ["x", "y"]}, True),
    ("anything-but an array of only it", {"a": [{"anything-but": "x"}]}, {"a": ["x"]}, False),
    ("wildcard escape matches a star", {"a": [{"wildcard": "a\\*b"}]}, {"a": "a*b"}, True),
    ("wildcard escape is not a wildcard", {"a": [{"wildcard": "a\\*b"}]}, {"a": "axxb"}, False),
    ("wildcard spans slashes and new lines", {"a": [{"wildcard": "a*z"}]}, {"a": "a/b\nz"}, True),
    ("IPv6 cidr", {"ip": [{"cidr": "2001:db8::/32"}]}, {"ip": "2001:db8::1"}, True),
    ("cidr on a non-address", {"ip": [{"cidr": "10.0.0.0/8"}]}, {"ip": "ten"}, False),
    ("numeric equality with greater-or-equal", {"n": [{"numeric": [">=", 5]}]}, {"n": 5}, True),
    (
        "nested $or",
        {"a": {"$or": [{"b": ["1"]}, {"c": {"$or": [{"d": ["2"]}, {"e": ["3"]}]}}]}},
        {"a": {"c": {"e": "3"}}},
        True,
    ),
]


@pytest.mark.parametrize(("pattern", "event", "expected"), [c[1:] for c in EDGES], ids=[c[0] for c in EDGES])
def test_the_rules_edges(pattern: dict[str, Any], event: dict[str, Any], expected: bool) -> None:
    validate(pattern)
    assert matches(pattern, event) is expected


INVALID: list[tuple[Any, str]] = [
    ([], "an event pattern is a JSON object"),
    ({}, "an event pattern names at least one field"),
    ({"source": "aws.ec2"}, 'source: a field\'s values go in a list (`["aws.ec2"]`), or it holds an object'),
    ({"source": []}, "source: an empty list matches nothing"),
    ({"detail": {}}, "detail: an empty object matches nothing"),
    ({"a": [{"between": [1, 2]}]}, "a[0]: unknown operator `between`"),
    ({"a": [{"prefix": "x", "suffix": "y"}]}, "a[0]: an operator object has exactly one operator"),
    ({"a": [{"prefix": 1}]}, "a[0].prefix: `prefix` takes a string"),
    ({"a": [{"prefix": {"ignore-case": "x"}}]}, "a[0].prefix: `prefix` takes a string or"),
    ({"a": [{"exists": "yes"}]}, "a[0].exists: `exists` takes true or false"),
    ({"a": [{"cidr": "10.0.0.0/33"}]}, "a[0].cidr: `cidr` is not an IPv4 or IPv6 network"),
    ({"a": [{"numeric": [">", 5, "<", 1]}]}, "a[0].numeric: the lower bound must be below the upper bound"),
    ({"a": [{"numeric": [">", 1, ">=", 2]}]}, "at most one lower and one upper bound"),
    ({"a": [{"numeric": ["=", 1, "<", 2]}]}, "`=` stands alone"),
    ({"a": [{"numeric": ["!=", 1]}]}, "`!=` is not a numeric operator"),
    ({"a": [{"numeric": [">", "1"]}]}, "`>` needs a number"),
    ({"a": [{"numeric": [">", 6e9]}]}, "within ±5.0e9"),
    ({"a": [{"numeric": [">"]}]}, "`numeric` takes operator and number pairs"),
    ({"a": [{"anything-but": ["x", 1]}]}, "`anything-but` takes strings only, or numbers only"),
    ({"a": [{"anything-but": {"numeric": [">", 1]}}]}, "`anything-but` takes values, or one of"),
    ({"a": [{"anything-but": {"prefix": 1}}]}, "`anything-but` `prefix` takes a string or a list of strings"),
    ({"a": [{"wildcard": "a**b"}]}, "may not have two `*` in a row"),
    ({"a": [{"wildcard": "a\\b"}]}, "escapes only `*` or `\\`"),
    ({"$or": [{"a": ["x"]}]}, "$or: `$or` takes a list of at least two patterns"),
    ({"$or": [{"a": ["x"]}, {}]}, "$or[1]: each `$or` branch is a non-empty object"),
    ({"a": [["x"]]}, "a[0]: a value is a string, number, boolean, null or an operator object"),
]


@pytest.mark.parametrize(("pattern", "message"), INVALID, ids=[m for _, m in INVALID])
def test_invalid_patterns_say_where_and_why(pattern: Any, message: str) -> None:
    with pytest.raises(InvalidEventPattern) as err:
        validate(pattern)
    assert message in str(err.value)


def test_matcher_validates_first() -> None:
    with pytest.raises(InvalidEventPattern):
        matcher({"source": "aws.ec2"})
    assert matcher({"source": ["aws.ec2"]})(EC2) is True
