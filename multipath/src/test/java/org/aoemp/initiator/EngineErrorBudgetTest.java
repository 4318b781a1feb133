package org.aoemp.initiator;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** When a device gives up after engine errors. */
class EngineErrorBudgetTest
{
    private static final long S = 1_000_000_000L;

    @Test
    void shouldGiveUpAtTheFifthErrorWithinTenSeconds()
    {
        final EngineErrorBudget budget = new EngineErrorBudget();
        for (int i = 0; i < EngineErrorBudget.MAX_ERRORS - 1; i++)
        {
            assertFalse(budget.exhaustedBy(i * S));
        }
        assertTrue(budget.exhaustedBy(EngineErrorBudget.WINDOW_SECONDS * S), "5 errors in 10 s");
    }

    @Test
    void shouldNotGiveUpWhenErrorsAreSpreadOut()
    {
        final EngineErrorBudget budget = new EngineErrorBudget();
        for (int i = 0; i < 100; i++)
        {
            assertFalse(budget.exhaustedBy(i * 3 * S), "one error every 3 s: never 5 within 10 s");
        }
    }

    @Test
    void shouldCountOnlyTheLastErrorsInTheWindow()
    {
        final EngineErrorBudget budget = new EngineErrorBudget(3, 10 * S);
        assertFalse(budget.exhaustedBy(0));
        assertFalse(budget.exhaustedBy(20 * S));
        assertFalse(budget.exhaustedBy(21 * S), "the error at 0 s is out of the window");
        assertTrue(budget.exhaustedBy(22 * S));
    }

    @Test
    void shouldGiveUpAtTheFirstErrorWithABudgetOfOne()
    {
        assertTrue(new EngineErrorBudget(1, S).exhaustedBy(42));
    }
}
