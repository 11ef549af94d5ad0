"""Second opinions on the counts: other tools' counters, run on real tensors."""
