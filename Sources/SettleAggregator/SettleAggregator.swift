public enum SettleAggregator {}
