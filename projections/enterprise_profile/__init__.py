"""``enterprise_profile``: one file per enterprise (一企一档) from Market Regulation, Tax and HRSS."""
