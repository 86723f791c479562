"""Resident grievance tickets 百姓说事、干部解题: intake, workflow, clocks, escalation, notifications, KPIs."""
