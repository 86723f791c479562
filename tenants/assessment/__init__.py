"""Property-service assessment 物业服务考核: rounds, scores, findings, ratings and the red/black list."""
