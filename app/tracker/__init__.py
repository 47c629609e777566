"""Session records and the application tracker (申請管理)."""
