"""Joint meetings 三方联动/四位一体联席会议: series per community or compound, meetings with attendance per party,
agenda items (free text or linked tickets, escalated "社区点题、部门答题"), minutes, decisions followed to done like
small tickets, and the compliance flags and figures that feed the assessment rubric (issue 19)."""
