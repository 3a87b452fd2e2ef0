"""Survey and mission planning."""

from .coverage import SurveyPlan, detectable_range, plan_survey, split_sorties

__all__ = ["SurveyPlan", "detectable_range", "plan_survey", "split_sorties"]
