"""Per-command latency histograms: the buckets Redis 7.0's HDR histograms use, so LATENCY
HISTOGRAM and INFO latencystats report the same figures.

Redis records each call's duration in nanoseconds (whole microseconds times 1000) into an
HDR histogram tracking 1 ns .. 1 s with 2 significant digits: 256 sub-buckets per
power-of-two bucket, half of them shared with the bucket below. Recording is an index
computation and an increment into a flat array of counts (`new_counts`); the reports
walk that array the way the HDR library's iterators do.
"""
from array import array

LOWEST_NS = 1                    # durations are clamped into [1 ns, 1 s]
HIGHEST_NS = 1_000_000_000
SUB_BUCKET_COUNT = 256           # 2 significant digits: the power of two above 2 * 10**2
SUB_BUCKET_HALF = 128
SUB_BUCKET_HALF_MAGNITUDE = 7
SUB_BUCKET_MASK = SUB_BUCKET_COUNT - 1
BUCKET_COUNT = 23                # 256 << 22 is the first power of two past 1 s
COUNTS_LEN = (BUCKET_COUNT + 1) * SUB_BUCKET_HALF


def new_counts():
    """An empty histogram: one 64-bit count per index."""
    return array("q", bytes(8 * COUNTS_LEN))


def index_for_usec(usec):
    """The counts index a call of `usec` microseconds is recorded at."""
    value = usec * 1000
    if value < LOWEST_NS:
        value = LOWEST_NS
    elif value > HIGHEST_NS:
        value = HIGHEST_NS
    bucket = (value | SUB_BUCKET_MASK).bit_length() - (SUB_BUCKET_HALF_MAGNITUDE + 1)
    sub_bucket = value >> bucket
    return ((bucket + 1) << SUB_BUCKET_HALF_MAGNITUDE) + sub_bucket - SUB_BUCKET_HALF


def record(cmd, usec):
    """Count one call of `cmd` that took `usec` µs (the after-call path does this inline)."""
    counts = cmd.latency_counts
    if counts is None:
        counts = cmd.latency_counts = new_counts()
    counts[index_for_usec(usec)] += 1


def _bucket_indices(value):
    bucket = (value | SUB_BUCKET_MASK).bit_length() - (SUB_BUCKET_HALF_MAGNITUDE + 1)
    return bucket, value >> bucket


def value_at_index(index):
    bucket = (index >> SUB_BUCKET_HALF_MAGNITUDE) - 1
    sub_bucket = (index & (SUB_BUCKET_HALF - 1)) + SUB_BUCKET_HALF
    if bucket < 0:
        sub_bucket -= SUB_BUCKET_HALF
        bucket = 0
    return sub_bucket << bucket


def _range_size(bucket, sub_bucket):
    return 1 << (bucket + 1 if sub_bucket >= SUB_BUCKET_COUNT else bucket)


def lowest_equivalent(value):
    bucket, sub_bucket = _bucket_indices(value)
    return sub_bucket << bucket


def highest_equivalent(value):
    bucket, sub_bucket = _bucket_indices(value)
    return (sub_bucket << bucket) + _range_size(bucket, sub_bucket) - 1


def total_count(counts):
    return sum(counts)


def value_at_percentile(counts, percentile, total=None):
    """The value (ns) at `percentile`, as hdr_value_at_percentile reports it."""
    if total is None:
        total = sum(counts)
    wanted = int((min(percentile, 100.0) / 100) * total + 0.5)
    wanted = max(wanted, 1)
    seen = 0
    value = 0
    for index, count in enumerate(counts):
        if count:
            seen += count
            if seen >= wanted:
                value = value_at_index(index)
                break
    if percentile == 0.0:
        return lowest_equivalent(value)
    return highest_equivalent(value)


def cumulative_usec_buckets(counts):
    """[(usec, calls so far)] at power-of-two steps from 1024 ns, where the count grew: the
    walk of HDR's logarithmic iterator (first step 1024, base 2) that LATENCY HISTOGRAM
    reports, each step labelled with the highest value of the index it stopped at."""
    total = sum(counts)
    out = []
    level = 1024
    level_lowest = lowest_equivalent(level)
    index = -1
    cumulative = 0
    value = 0
    highest = 0
    previous = 0
    while True:
        # has_next, or a next index whose value lies beyond the reporting level
        if not (cumulative < total or (index + 1 < COUNTS_LEN
                                       and value_at_index(index + 1) > level_lowest)):
            break
        while True:
            if value >= level_lowest:
                level *= 2
                level_lowest = lowest_equivalent(level)
                break
            index += 1
            if index >= COUNTS_LEN:
                break
            cumulative += counts[index]
            value = value_at_index(index)
            bucket, sub_bucket = _bucket_indices(value)
            highest = (sub_bucket << bucket) + _range_size(bucket, sub_bucket) - 1
        if cumulative > previous:
            out.append((highest // 1000, cumulative))
        previous = cumulative
        if index >= COUNTS_LEN:
            break
    return out
